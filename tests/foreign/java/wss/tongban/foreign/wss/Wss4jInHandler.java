package tongban.foreign.wss;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import javax.security.auth.callback.Callback;
import javax.security.auth.callback.CallbackHandler;
import javax.security.auth.callback.UnsupportedCallbackException;
import javax.xml.namespace.QName;
import javax.xml.soap.SOAPFactory;
import javax.xml.soap.SOAPFault;
import javax.xml.ws.handler.MessageContext;
import javax.xml.ws.handler.soap.SOAPHandler;
import javax.xml.ws.handler.soap.SOAPMessageContext;
import javax.xml.ws.soap.SOAPFaultException;

import org.apache.ws.security.WSConstants;
import org.apache.ws.security.WSPasswordCallback;
import org.apache.ws.security.WSSecurityEngineResult;
import org.apache.ws.security.WSSecurityException;
import org.apache.ws.security.cache.MemoryReplayCache;
import org.apache.ws.security.cache.ReplayCache;
import org.apache.ws.security.handler.RequestData;
import org.apache.ws.security.handler.WSHandler;
import org.apache.ws.security.handler.WSHandlerConstants;
import org.apache.ws.security.util.WSSecurityUtil;
import org.w3c.dom.Document;
import org.w3c.dom.Element;

/**
 * Inbound WS-Security for a JAX-WS RI endpoint, done by Apache WSS4J 1.6 the way CXF 2.x's
 * WSS4JInInterceptor does it (WSS4J 1.6 no longer ships framework handlers of its own): a {@link WSHandler}
 * configured by the usual WSHandlerConstants options ("action", "passwordType", "passwordTypeStrict", ...),
 * WSSecurityEngine over the SAAJ document, a password callback, checkReceiverResults (the actions found must
 * be exactly the configured ones, in order), a nonce replay cache, and a SOAP 1.1 fault with WSS4J's fault
 * code (wsse:InvalidSecurity, wsse:FailedAuthentication, ...) and message when anything is wrong.
 */
public class Wss4jInHandler extends WSHandler implements SOAPHandler<SOAPMessageContext> {
    private static final QName SECURITY = new QName(WSConstants.WSSE_NS, WSConstants.WSSE_LN);
    private final Map<String, Object> options = new HashMap<>();
    private final ReplayCache nonces = new MemoryReplayCache();
    private final String username;
    private final String password;

    public Wss4jInHandler(String username, String password, Map<String, String> config) {
        this.username = username;
        this.password = password;
        options.putAll(config);
    }

    @Override
    public Set<QName> getHeaders() {
        return Collections.singleton(SECURITY);  // so that mustUnderstand="1" on wsse:Security is understood
    }

    @Override
    public boolean handleMessage(SOAPMessageContext context) {
        if (Boolean.TRUE.equals(context.get(MessageContext.MESSAGE_OUTBOUND_PROPERTY))) {
            return true;
        }
        try {
            Document doc = context.getMessage().getSOAPPart();
            RequestData reqData = new RequestData();
            reqData.setMsgContext(context);
            List<Integer> actions = new ArrayList<>();
            int doAction = WSSecurityUtil.decodeAction(getStringOption(WSHandlerConstants.ACTION), actions);
            doReceiverAction(doAction, reqData);
            reqData.setCallbackHandler(new Passwords());
            reqData.setNonceReplayCache(nonces);
            Element header = WSSecurityUtil.getSecurityHeader(doc, null);
            List<WSSecurityEngineResult> results = header == null ? null : secEngine.processSecurityHeader(header, reqData);
            if (results == null || results.isEmpty()) {
                if (doAction == WSConstants.NO_SECURITY) {
                    return true;
                }
                throw new WSSecurityException(WSSecurityException.INVALID_SECURITY);  // no Security header
            }
            if (!checkReceiverResults(results, actions)) {
                throw new WSSecurityException(WSSecurityException.INVALID_SECURITY);  // other actions than required
            }
            return true;
        } catch (WSSecurityException e) {
            throw fault(e.getMessage(), e.getFaultCode());
        }
    }

    private static SOAPFaultException fault(String message, QName code) {
        try {
            SOAPFault fault = SOAPFactory.newInstance().createFault(
                    message == null ? "WS-Security processing failed" : message,
                    code != null ? code : new QName(WSConstants.WSSE_NS, "InvalidSecurity", WSConstants.WSSE_PREFIX));
            return new SOAPFaultException(fault);
        } catch (javax.xml.soap.SOAPException e) {
            throw new IllegalStateException(e);
        }
    }

    private final class Passwords implements CallbackHandler {
        @Override
        public void handle(Callback[] callbacks) throws UnsupportedCallbackException {
            for (Callback callback : callbacks) {
                if (!(callback instanceof WSPasswordCallback)) {
                    throw new UnsupportedCallbackException(callback);
                }
                WSPasswordCallback pc = (WSPasswordCallback) callback;
                if (username.equals(pc.getIdentifier())) {
                    pc.setPassword(password);
                }
            }
        }
    }

    @Override
    public boolean handleFault(SOAPMessageContext context) {
        return true;
    }

    @Override
    public void close(MessageContext context) {
    }

    @Override
    public Object getOption(String key) {
        return options.get(key);
    }

    @Override
    public Object getProperty(Object msgContext, String key) {
        return options.get(key);
    }

    @Override
    public void setProperty(Object msgContext, String key, Object value) {
        options.put(key, value);
    }

    @Override
    public String getPassword(Object msgContext) {
        return null;
    }

    @Override
    public void setPassword(Object msgContext, String password) {
    }
}
