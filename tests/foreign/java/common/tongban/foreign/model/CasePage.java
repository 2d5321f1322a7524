package tongban.foreign.model;

import javax.xml.bind.annotation.XmlType;

/** One page of a query: the records of this page and how many match the query in all. */
@XmlType(propOrder = {"total", "pageNo", "pageSize", "cases"})
public class CasePage implements java.io.Serializable {
    private int total;
    private int pageNo;
    private int pageSize;
    private CaseRecord[] cases = new CaseRecord[0];

    public int getTotal() { return total; }
    public void setTotal(int total) { this.total = total; }
    public int getPageNo() { return pageNo; }
    public void setPageNo(int pageNo) { this.pageNo = pageNo; }
    public int getPageSize() { return pageSize; }
    public void setPageSize(int pageSize) { this.pageSize = pageSize; }
    public CaseRecord[] getCases() { return cases; }
    public void setCases(CaseRecord[] cases) { this.cases = cases; }
}
