package tongban.foreign.jaxws;

import java.util.Calendar;

import javax.jws.WebMethod;
import javax.jws.WebParam;
import javax.jws.WebService;

import tongban.foreign.model.CasePage;
import tongban.foreign.model.CaseStore;

/**
 * The JAX-WS RI stand-in: document/literal wrapped, everything else left to the RI's defaults (service
 * "CaseQueryService", port "CaseQueryPort", namespace "http://jaxws.foreign.tongban/" from the package, the
 * beans' schema in "http://model.foreign.tongban/", unqualified child elements, result element "return").
 */
@WebService(serviceName = "CaseQueryService", portName = "CaseQueryPort")
public class CaseQuery {
    private final CaseStore store;

    public CaseQuery() {
        this(null);
    }

    public CaseQuery(CaseStore store) {
        this.store = store;
    }

    @WebMethod
    public CasePage queryCases(@WebParam(name = "updatedSince") Calendar updatedSince,
                               @WebParam(name = "pageNo") int pageNo,
                               @WebParam(name = "pageSize") int pageSize) {
        return store.query(updatedSince, pageNo, pageSize);
    }
}
