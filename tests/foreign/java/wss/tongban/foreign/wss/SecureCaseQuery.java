package tongban.foreign.wss;

import javax.jws.WebService;

import tongban.foreign.model.CaseQueries;
import tongban.foreign.model.CaseStore;

/**
 * The same query as the plain JAX-WS service ({@link CaseQueries}), behind WS-Security: JAX-WS RI
 * document/literal wrapped, namespace "http://wss.foreign.tongban/", with {@link Wss4jInHandler} (Apache WSS4J)
 * checking every request first.
 */
@WebService(serviceName = "SecureCaseQueryService", portName = "SecureCaseQueryPort")
public class SecureCaseQuery extends CaseQueries {
    public SecureCaseQuery() {  // JAX-WS wants a public no-argument constructor
        this(null);
    }

    public SecureCaseQuery(CaseStore store) {
        super(store);
    }
}
