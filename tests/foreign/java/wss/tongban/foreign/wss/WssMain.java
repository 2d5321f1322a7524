package tongban.foreign.wss;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;

import javax.xml.ws.Binding;
import javax.xml.ws.Endpoint;
import javax.xml.ws.handler.Handler;

import com.sun.net.httpserver.HttpServer;

import org.apache.ws.security.handler.WSHandlerConstants;

import tongban.foreign.model.CaseStore;

/**
 * java tongban.foreign.wss.WssMain RECORDS.tsv USERNAME PASSWORD [key=value ...]
 *
 * Publishes SecureCaseQuery (JAX-WS RI, JDK HTTP server, 127.0.0.1, a port the OS picks) at
 * /ws/SecureCaseQueryService with the WSS4J handler in front. The key=value options are WSS4J's
 * WSHandlerConstants; the defaults: action=UsernameToken, passwordType=PasswordDigest, passwordTypeStrict=true.
 * Prints "LISTENING <port>" once it answers.
 */
public final class WssMain {
    public static void main(String[] args) throws Exception {
        CaseStore store = CaseStore.load(Paths.get(args[0]));
        Map<String, String> config = new HashMap<>();
        config.put(WSHandlerConstants.ACTION, WSHandlerConstants.USERNAME_TOKEN);
        config.put(WSHandlerConstants.PASSWORD_TYPE, "PasswordDigest");
        config.put(WSHandlerConstants.PASSWORD_TYPE_STRICT, "true");
        for (int i = 3; i < args.length; i++) {
            String[] kv = args[i].split("=", 2);
            config.put(kv[0], kv[1]);
        }
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0), 50);
        server.setExecutor(Executors.newFixedThreadPool(4));
        server.start();
        Endpoint endpoint = Endpoint.create(new SecureCaseQuery(store));
        Binding binding = endpoint.getBinding();
        List<Handler> chain = new ArrayList<>(binding.getHandlerChain());
        chain.add(new Wss4jInHandler(args[1], args[2], config));
        binding.setHandlerChain(chain);
        endpoint.publish(server.createContext("/ws/SecureCaseQueryService"));
        System.out.println("LISTENING " + server.getAddress().getPort() + " records=" + store.size() + " " + config);
        System.out.flush();
    }
}
