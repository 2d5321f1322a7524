package tongban.foreign.axis;

import java.util.Calendar;

import tongban.foreign.model.CasePage;
import tongban.foreign.model.CaseStore;

/**
 * The Axis 1.4 stand-in: a plain class deployed by server-config.wsdd as provider java:RPC, style rpc,
 * use encoded. Axis makes one instance per request, so the records sit in a static field set by AxisMain.
 */
public class CaseQueryService {
    static CaseStore store;

    public CasePage queryCases(Calendar updatedSince, int pageNo, int pageSize) {
        return store.query(updatedSince, pageNo, pageSize);
    }
}
