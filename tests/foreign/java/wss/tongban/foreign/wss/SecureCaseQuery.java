package tongban.foreign.wss;

import java.util.Calendar;

import javax.jws.WebMethod;
import javax.jws.WebParam;
import javax.jws.WebService;

import tongban.foreign.model.CasePage;
import tongban.foreign.model.CaseStore;

/**
 * The same query as the plain JAX-WS service, behind WS-Security: JAX-WS RI document/literal wrapped, namespace
 * "http://wss.foreign.tongban/", with {@link Wss4jInHandler} (Apache WSS4J) checking every request first.
 */
@WebService(serviceName = "SecureCaseQueryService", portName = "SecureCaseQueryPort")
public class SecureCaseQuery {
    private final CaseStore store;

    public SecureCaseQuery() {
        this(null);
    }

    public SecureCaseQuery(CaseStore store) {
        this.store = store;
    }

    @WebMethod
    public CasePage queryCases(@WebParam(name = "updatedSince") Calendar updatedSince,
                               @WebParam(name = "pageNo") int pageNo,
                               @WebParam(name = "pageSize") int pageSize) {
        return store.query(updatedSince, pageNo, pageSize);
    }
}
