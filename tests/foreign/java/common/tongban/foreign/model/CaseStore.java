package tongban.foreign.model;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Calendar;
import java.util.Comparator;
import java.util.GregorianCalendar;
import java.util.List;
import java.util.TimeZone;

/**
 * The records, read once from the TSV file the Python harness wrote (UTF-8, a header line, \N for null,
 * times as ISO-8601 with offset), kept ordered by (updateTime, id).
 *
 * query(): the records with updateTime >= updatedSince (all when null), page pageNo (1-based) of pageSize.
 */
public final class CaseStore {
    public static final int MAX_PAGE_SIZE = 1000;
    private final List<CaseRecord> records;

    private CaseStore(List<CaseRecord> records) {
        this.records = records;
    }

    public static CaseStore load(Path path) throws IOException {
        List<String> lines = Files.readAllLines(path, StandardCharsets.UTF_8);
        List<CaseRecord> records = new ArrayList<>();
        for (String line : lines.subList(1, lines.size())) {
            if (line.isEmpty()) {
                continue;
            }
            String[] f = line.split("\t", -1);
            CaseRecord r = new CaseRecord();
            r.setId(Long.parseLong(f[0]));
            r.setCaseNo(text(f[1]));
            r.setItemCode(text(f[2]));
            r.setItemName(text(f[3]));
            r.setApplicantName(text(f[4]));
            r.setIdNumber(text(f[5]));
            r.setStatus(text(f[6]));
            r.setAcceptTime(time(f[7]));
            r.setFinishTime(time(f[8]));
            r.setUpdateTime(time(f[9]));
            records.add(r);
        }
        records.sort(Comparator.comparing((CaseRecord r) -> r.getUpdateTime().getTimeInMillis())
                .thenComparingLong(CaseRecord::getId));
        return new CaseStore(records);
    }

    private static String text(String field) {
        return "\\N".equals(field) ? null : field;
    }

    private static Calendar time(String field) {
        if ("\\N".equals(field)) {
            return null;
        }
        OffsetDateTime t = OffsetDateTime.parse(field);
        GregorianCalendar c = new GregorianCalendar(TimeZone.getTimeZone(t.getOffset()));
        c.setTimeInMillis(t.toInstant().toEpochMilli());
        return c;
    }

    public int size() {
        return records.size();
    }

    public CasePage query(Calendar updatedSince, int pageNo, int pageSize) {
        if (pageNo < 1) {
            throw new IllegalArgumentException("pageNo must be >= 1, got " + pageNo);
        }
        if (pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
            throw new IllegalArgumentException("pageSize must be 1.." + MAX_PAGE_SIZE + ", got " + pageSize);
        }
        List<CaseRecord> matching = new ArrayList<>();
        long since = updatedSince == null ? Long.MIN_VALUE : updatedSince.getTimeInMillis();
        for (CaseRecord r : records) {
            if (r.getUpdateTime().getTimeInMillis() >= since) {
                matching.add(r);
            }
        }
        long from = (long) (pageNo - 1) * pageSize;
        int start = (int) Math.min(from, matching.size());
        int end = (int) Math.min(from + pageSize, matching.size());
        CasePage page = new CasePage();
        page.setTotal(matching.size());
        page.setPageNo(pageNo);
        page.setPageSize(pageSize);
        page.setCases(matching.subList(start, end).toArray(new CaseRecord[0]));
        return page;
    }
}
