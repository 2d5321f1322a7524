package tongban.foreign.model;

import java.util.Calendar;

import javax.jws.WebMethod;
import javax.jws.WebParam;
import javax.jws.WebService;

/**
 * The one operation both JAX-WS services publish: queryCases(updatedSince, pageNo, pageSize) over a CaseStore
 * (see CaseStore.query). Each service is a subclass carrying its own @WebService (service, port, namespace from
 * its package); JAX-WS takes inherited methods only from a superclass annotated @WebService, hence the bare
 * annotation here, which names nothing: the operation, its wrappers and their schema stay the subclass's.
 * (The Axis service is rpc/encoded and a plain class: it calls CaseStore.query itself.)
 */
@WebService
public abstract class CaseQueries {
    private final CaseStore store;

    protected CaseQueries(CaseStore store) {
        this.store = store;
    }

    @WebMethod
    public CasePage queryCases(@WebParam(name = "updatedSince") Calendar updatedSince,
                               @WebParam(name = "pageNo") int pageNo,
                               @WebParam(name = "pageSize") int pageSize) {
        return store.query(updatedSince, pageNo, pageSize);
    }
}
