package tongban.foreign.jaxws;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Paths;
import java.util.concurrent.Executors;

import javax.xml.ws.Endpoint;

import com.sun.net.httpserver.HttpServer;

import tongban.foreign.model.CaseStore;

/**
 * java tongban.foreign.jaxws.JaxwsMain RECORDS.tsv
 *
 * Publishes CaseQuery with javax.xml.ws.Endpoint on the JDK's HTTP server, bound to 127.0.0.1 on a port the
 * OS picks, at /ws/CaseQueryService (WSDL at ?wsdl, its schemas at ?xsd=1, ?xsd=2), and prints
 * "LISTENING <port>" once it answers.
 */
public final class JaxwsMain {
    public static void main(String[] args) throws Exception {
        CaseStore store = CaseStore.load(Paths.get(args[0]));
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0), 50);
        server.setExecutor(Executors.newFixedThreadPool(4));
        server.start();
        Endpoint endpoint = Endpoint.create(new CaseQuery(store));
        endpoint.publish(server.createContext("/ws/CaseQueryService"));
        System.out.println("LISTENING " + server.getAddress().getPort() + " records=" + store.size());
        System.out.flush();
    }
}
