package tongban.foreign.model;

import java.util.Calendar;

import javax.xml.bind.annotation.XmlType;

/**
 * One case (办件) as the foreign department system holds it. A plain JavaBean: JAXB (JAX-WS RI) and Axis 1.4's
 * BeanSerializer both map it by its getters and setters; neither stack is told anything else about it.
 * finishTime is null until the case is finished (JAXB then omits the element, Axis writes xsi:nil="true").
 */
@XmlType(propOrder = {"id", "caseNo", "itemCode", "itemName", "applicantName", "idNumber", "status",
        "acceptTime", "finishTime", "updateTime"})
public class CaseRecord implements java.io.Serializable {
    private long id;
    private String caseNo;          // 办件流水号 (bjlsh)
    private String itemCode;        // 事项编码
    private String itemName;        // 事项名称
    private String applicantName;   // 申请人姓名
    private String idNumber;        // 身份证号
    private String status;          // 办件状态代码
    private Calendar acceptTime;    // 受理时间
    private Calendar finishTime;    // 办结时间, nullable
    private Calendar updateTime;    // 更新时间

    public long getId() { return id; }
    public void setId(long id) { this.id = id; }
    public String getCaseNo() { return caseNo; }
    public void setCaseNo(String caseNo) { this.caseNo = caseNo; }
    public String getItemCode() { return itemCode; }
    public void setItemCode(String itemCode) { this.itemCode = itemCode; }
    public String getItemName() { return itemName; }
    public void setItemName(String itemName) { this.itemName = itemName; }
    public String getApplicantName() { return applicantName; }
    public void setApplicantName(String applicantName) { this.applicantName = applicantName; }
    public String getIdNumber() { return idNumber; }
    public void setIdNumber(String idNumber) { this.idNumber = idNumber; }
    public String getStatus() { return status; }
    public void setStatus(String status) { this.status = status; }
    public Calendar getAcceptTime() { return acceptTime; }
    public void setAcceptTime(Calendar acceptTime) { this.acceptTime = acceptTime; }
    public Calendar getFinishTime() { return finishTime; }
    public void setFinishTime(Calendar finishTime) { this.finishTime = finishTime; }
    public Calendar getUpdateTime() { return updateTime; }
    public void setUpdateTime(Calendar updateTime) { this.updateTime = updateTime; }
}
