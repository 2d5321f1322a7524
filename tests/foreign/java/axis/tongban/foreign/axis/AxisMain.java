package tongban.foreign.axis;

import java.nio.file.Paths;

import org.apache.axis.transport.http.AxisServlet;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.servlet.ServletContextHandler;

import tongban.foreign.model.CaseStore;

/**
 * java tongban.foreign.axis.AxisMain RECORDS.tsv WEBROOT
 *
 * Runs Axis 1.4's AxisServlet in an embedded Jetty 9 on 127.0.0.1 (a port the OS picks), context /axis,
 * reading its deployment from WEBROOT/WEB-INF/server-config.wsdd, as an Axis webapp does. The service is at
 * /axis/services/CaseQueryService (WSDL at ?wsdl). Prints "LISTENING <port>" once Jetty has started.
 */
public final class AxisMain {
    public static void main(String[] args) throws Exception {
        CaseQueryService.store = CaseStore.load(Paths.get(args[0]));
        Server server = new Server();
        ServerConnector connector = new ServerConnector(server);
        connector.setHost("127.0.0.1");
        connector.setPort(0);
        server.addConnector(connector);
        ServletContextHandler context = new ServletContextHandler(ServletContextHandler.NO_SESSIONS);
        context.setContextPath("/axis");
        context.setResourceBase(args[1]);
        context.addServlet(AxisServlet.class, "/services/*").setInitOrder(1);
        server.setHandler(context);
        server.start();
        System.out.println("LISTENING " + connector.getLocalPort() + " records=" + CaseQueryService.store.size());
        System.out.flush();
        server.join();
    }
}
