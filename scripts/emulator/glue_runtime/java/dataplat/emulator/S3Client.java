package dataplat.emulator;

import java.io.ByteArrayInputStream;
import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import javax.xml.parsers.DocumentBuilderFactory;

import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/** The few S3 REST calls the file system needs, path-style, SigV4-signed, over TLS. */
final class S3Client {
    static final class Entry {
        final String key;
        final long size;
        final long lastModified;

        Entry(String key, long size, long lastModified) {
            this.key = key;
            this.size = size;
            this.lastModified = lastModified;
        }
    }

    static final class Listing {
        final List<Entry> objects = new ArrayList<>();
        final List<String> prefixes = new ArrayList<>();

        boolean isEmpty() {
            return objects.isEmpty() && prefixes.isEmpty();
        }
    }

    private static final DateTimeFormatter AMZ_DATE = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC);
    private static final String EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    /** Per bucket: the SSE headers its default encryption implies (empty map: none). */
    private static final Map<String, Map<String, String>> ENCRYPTION = new ConcurrentHashMap<>();

    private final URI endpoint;
    private final String region;
    private final String accessKey;
    private final String secretKey;
    private final String sessionToken;
    private final HttpClient http;

    S3Client(String endpoint, String caBundle, String region, String accessKey, String secretKey, String sessionToken) throws IOException {
        this.endpoint = URI.create(endpoint.replaceAll("/+$", ""));
        this.region = region;
        this.accessKey = accessKey;
        this.secretKey = secretKey;
        this.sessionToken = sessionToken == null || sessionToken.isEmpty() ? null : sessionToken;
        this.http = HttpClient.newBuilder().sslContext(trusting(caBundle)).version(HttpClient.Version.HTTP_1_1).build();
    }

    private static SSLContext trusting(String caBundle) throws IOException {
        try (InputStream in = new FileInputStream(caBundle)) {
            KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
            store.load(null, null);
            int i = 0;
            for (Certificate cert : CertificateFactory.getInstance("X.509").generateCertificates(in)) store.setCertificateEntry("ca-" + i++, cert);
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(store);
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, tmf.getTrustManagers(), null);
            return ctx;
        } catch (IOException e) {
            throw e;
        } catch (Exception e) {
            throw new IOException("cannot load the emulator's CA bundle " + caBundle + ": " + e, e);
        }
    }

    /** GETs the object into `target`; its size, or -1 when there is no such object. */
    long get(String bucket, String key, File target) throws IOException {
        HttpResponse<InputStream> res = send("GET", bucket, key, new TreeMap<>(), Map.of(), null, HttpResponse.BodyHandlers.ofInputStream());
        try (InputStream body = res.body()) {
            if (res.statusCode() == 404) return -1;
            if (res.statusCode() != 200) throw failure("GetObject", bucket, key, res.statusCode(), new String(body.readAllBytes(), StandardCharsets.UTF_8));
            return Files.copy(body, target.toPath(), StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** HEAD: the object's entry, or null when there is none. */
    Entry head(String bucket, String key) throws IOException {
        if (key.isEmpty()) return null;
        HttpResponse<byte[]> res = send("HEAD", bucket, key, new TreeMap<>(), Map.of(), null, HttpResponse.BodyHandlers.ofByteArray());
        if (res.statusCode() == 404) return null;
        if (res.statusCode() != 200) throw failure("HeadObject", bucket, key, res.statusCode(), "");
        long size = Long.parseLong(res.headers().firstValue("content-length").orElse("0"));
        long modified = res.headers().firstValue("last-modified")
            .map(v -> java.time.ZonedDateTime.parse(v, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant().toEpochMilli()).orElse(0L);
        return new Entry(key, size, modified);
    }

    void put(String bucket, String key, File source) throws IOException {
        byte[] data = Files.readAllBytes(source.toPath());
        HttpResponse<byte[]> res = send("PUT", bucket, key, new TreeMap<>(), encryption(bucket), data, HttpResponse.BodyHandlers.ofByteArray());
        if (res.statusCode() != 200) throw failure("PutObject", bucket, key, res.statusCode(), new String(res.body(), StandardCharsets.UTF_8));
    }

    void copy(String bucket, String from, String to) throws IOException {
        Map<String, String> headers = new TreeMap<>(encryption(bucket));
        headers.put("x-amz-copy-source", "/" + bucket + "/" + encode(from, false));
        HttpResponse<byte[]> res = send("PUT", bucket, to, new TreeMap<>(), headers, null, HttpResponse.BodyHandlers.ofByteArray());
        String body = new String(res.body(), StandardCharsets.UTF_8);
        // CopyObject can fail with HTTP 200 and an Error document.
        if (res.statusCode() != 200 || body.contains("<Error>")) throw failure("CopyObject " + from + " →", bucket, to, res.statusCode(), body);
    }

    void delete(String bucket, String key) throws IOException {
        HttpResponse<byte[]> res = send("DELETE", bucket, key, new TreeMap<>(), Map.of(), null, HttpResponse.BodyHandlers.ofByteArray());
        if (res.statusCode() != 204 && res.statusCode() != 200) throw failure("DeleteObject", bucket, key, res.statusCode(), new String(res.body(), StandardCharsets.UTF_8));
    }

    Listing list(String bucket, String prefix, String delimiter) throws IOException {
        return list(bucket, prefix, delimiter, Integer.MAX_VALUE);
    }

    /** ListObjectsV2 over every page (or until `limit` entries). */
    Listing list(String bucket, String prefix, String delimiter, int limit) throws IOException {
        Listing out = new Listing();
        String token = null;
        do {
            TreeMap<String, String> query = new TreeMap<>();
            query.put("list-type", "2");
            query.put("prefix", prefix);
            if (delimiter != null) query.put("delimiter", delimiter);
            if (limit < 1000) query.put("max-keys", String.valueOf(limit));
            if (token != null) query.put("continuation-token", token);
            HttpResponse<byte[]> res = send("GET", bucket, "", query, Map.of(), null, HttpResponse.BodyHandlers.ofByteArray());
            if (res.statusCode() != 200) throw failure("ListObjectsV2", bucket, prefix, res.statusCode(), new String(res.body(), StandardCharsets.UTF_8));
            Document doc = xml(res.body());
            NodeList contents = doc.getElementsByTagName("Contents");
            for (int i = 0; i < contents.getLength(); i++) {
                Element c = (Element) contents.item(i);
                out.objects.add(new Entry(text(c, "Key"), Long.parseLong(text(c, "Size")), Instant.parse(text(c, "LastModified")).toEpochMilli()));
            }
            NodeList prefixes = doc.getElementsByTagName("CommonPrefixes");
            for (int i = 0; i < prefixes.getLength(); i++) out.prefixes.add(text((Element) prefixes.item(i), "Prefix"));
            token = "true".equals(text(doc.getDocumentElement(), "IsTruncated")) ? text(doc.getDocumentElement(), "NextContinuationToken") : null;
        } while (token != null && out.objects.size() + out.prefixes.size() < limit);
        return out;
    }

    List<Entry> listAll(String bucket, String prefix) throws IOException {
        return list(bucket, prefix, null).objects;
    }

    /** The bucket's default encryption as request headers: the key its policy lets writes name. */
    private Map<String, String> encryption(String bucket) throws IOException {
        Map<String, String> known = ENCRYPTION.get(bucket);
        if (known != null) return known;
        TreeMap<String, String> query = new TreeMap<>();
        query.put("encryption", "");
        HttpResponse<byte[]> res = send("GET", bucket, "", query, Map.of(), null, HttpResponse.BodyHandlers.ofByteArray());
        Map<String, String> headers = new TreeMap<>();
        if (res.statusCode() == 200) {
            Document doc = xml(res.body());
            String algorithm = text(doc.getDocumentElement(), "SSEAlgorithm");
            if ("aws:kms".equals(algorithm)) {
                headers.put("x-amz-server-side-encryption", "aws:kms");
                String keyId = text(doc.getDocumentElement(), "KMSMasterKeyID");
                if (keyId != null) headers.put("x-amz-server-side-encryption-aws-kms-key-id", keyId);
            }
        } else if (res.statusCode() != 404) {
            throw failure("GetBucketEncryption", bucket, "", res.statusCode(), new String(res.body(), StandardCharsets.UTF_8));
        }
        ENCRYPTION.put(bucket, headers);
        return headers;
    }

    private <T> HttpResponse<T> send(String method, String bucket, String key, TreeMap<String, String> query, Map<String, String> extra,
                                     byte[] body, HttpResponse.BodyHandler<T> handler) throws IOException {
        EmulatorS3FileSystem.REQUESTS.incrementAndGet();
        String path = "/" + bucket + (key.isEmpty() ? "/" : "/" + encode(key, false));
        StringBuilder qs = new StringBuilder();
        for (Map.Entry<String, String> q : query.entrySet()) {
            if (qs.length() > 0) qs.append('&');
            qs.append(encode(q.getKey(), true)).append('=').append(encode(q.getValue(), true));
        }
        String amzDate = AMZ_DATE.format(Instant.now());
        String date = amzDate.substring(0, 8);
        String payloadHash = body == null ? EMPTY_SHA256 : hex(sha256(body));
        String host = endpoint.getHost() + (endpoint.getPort() > 0 ? ":" + endpoint.getPort() : "");
        TreeMap<String, String> headers = new TreeMap<>();
        headers.put("host", host);
        headers.put("x-amz-date", amzDate);
        headers.put("x-amz-content-sha256", payloadHash);
        if (sessionToken != null) headers.put("x-amz-security-token", sessionToken);
        for (Map.Entry<String, String> h : extra.entrySet()) headers.put(h.getKey().toLowerCase(), h.getValue());
        StringBuilder canonicalHeaders = new StringBuilder();
        for (Map.Entry<String, String> h : headers.entrySet()) canonicalHeaders.append(h.getKey()).append(':').append(h.getValue().trim()).append('\n');
        String signedHeaders = String.join(";", headers.keySet());
        String canonical = method + "\n" + path + "\n" + qs + "\n" + canonicalHeaders + "\n" + signedHeaders + "\n" + payloadHash;
        String scope = date + "/" + region + "/s3/aws4_request";
        String toSign = "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex(sha256(canonical.getBytes(StandardCharsets.UTF_8)));
        byte[] signingKey = hmac(hmac(hmac(hmac(("AWS4" + secretKey).getBytes(StandardCharsets.UTF_8), date), region), "s3"), "aws4_request");
        String signature = hex(hmac(signingKey, toSign));
        HttpRequest.Builder req = HttpRequest.newBuilder(URI.create(endpoint + path + (qs.length() > 0 ? "?" + qs : "")))
            .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(body))
            .header("Authorization", "AWS4-HMAC-SHA256 Credential=" + accessKey + "/" + scope + ", SignedHeaders=" + signedHeaders + ", Signature=" + signature);
        for (Map.Entry<String, String> h : headers.entrySet()) if (!h.getKey().equals("host")) req.header(h.getKey(), h.getValue());
        try {
            return http.send(req.build(), handler);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted: " + method + " " + path, e);
        }
    }

    private static IOException failure(String op, String bucket, String key, int status, String body) {
        String code = body.replaceAll("(?s).*<Code>([^<]*)</Code>.*", "$1");
        String message = body.replaceAll("(?s).*<Message>([^<]*)</Message>.*", "$1");
        return new IOException(op + " s3://" + bucket + "/" + key + ": HTTP " + status
            + (body.contains("<Code>") ? " " + code + ": " + message : ""));
    }

    /** SigV4 URI encoding: unreserved characters as-is, '/' kept in paths, everything else %XX. */
    static String encode(String value, boolean encodeSlash) {
        StringBuilder out = new StringBuilder();
        for (byte b : value.getBytes(StandardCharsets.UTF_8)) {
            char c = (char) (b & 0xff);
            if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~'
                || (c == '/' && !encodeSlash)) {
                out.append(c);
            } else {
                out.append(String.format("%%%02X", b & 0xff));
            }
        }
        return out.toString();
    }

    private static Document xml(byte[] body) throws IOException {
        try {
            DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
            f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
            return f.newDocumentBuilder().parse(new ByteArrayInputStream(body));
        } catch (Exception e) {
            throw new IOException("unreadable S3 response: " + e, e);
        }
    }

    private static String text(Element parent, String tag) {
        NodeList nodes = parent.getElementsByTagName(tag);
        return nodes.getLength() == 0 ? null : nodes.item(0).getTextContent();
    }

    private static byte[] sha256(byte[] data) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(data);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] hmac(byte[] key, String data) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            return mac.doFinal(data.getBytes(StandardCharsets.UTF_8));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static String hex(byte[] data) {
        StringBuilder out = new StringBuilder();
        for (byte b : data) out.append(String.format("%02x", b & 0xff));
        return out.toString();
    }
}
