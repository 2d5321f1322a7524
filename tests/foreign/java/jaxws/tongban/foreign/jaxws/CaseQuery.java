package tongban.foreign.jaxws;

import javax.jws.WebService;

import tongban.foreign.model.CaseQueries;
import tongban.foreign.model.CaseStore;

/**
 * The JAX-WS RI stand-in: document/literal wrapped, everything else left to the RI's defaults (service
 * "CaseQueryService", port "CaseQueryPort", namespace "http://jaxws.foreign.tongban/" from the package, the
 * beans' schema in "http://model.foreign.tongban/", unqualified child elements, result element "return").
 * The operation, queryCases, is {@link CaseQueries}'.
 */
@WebService(serviceName = "CaseQueryService", portName = "CaseQueryPort")
public class CaseQuery extends CaseQueries {
    public CaseQuery() {  // JAX-WS wants a public no-argument constructor
        this(null);
    }

    public CaseQuery(CaseStore store) {
        super(store);
    }
}
