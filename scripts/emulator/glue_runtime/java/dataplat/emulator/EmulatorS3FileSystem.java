package dataplat.emulator;

import java.io.File;
import java.io.FileNotFoundException;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.net.URI;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FSInputStream;
import org.apache.hadoop.fs.FileAlreadyExistsException;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.permission.FsPermission;
import org.apache.hadoop.util.Progressable;

/**
 * s3:// for local Spark against the project's emulator, where no hadoop-aws jar can be had.
 *
 * Objects are staged one by one as the job touches them: open() GETs the object into a temp file
 * and reads that; create() writes a temp file and PUTs it on close(); listing and status are
 * ListObjectsV2 and HEAD; rename is copy + delete (S3 has no rename); delete is per object.
 * Directories are key prefixes, as in S3A; mkdirs writes nothing (a marker object would land in
 * the lake and fire its Object Created events) but is remembered in this JVM, so a directory a job
 * made and has not yet filled still exists for it. Every request is SigV4-signed with the
 * credentials Hadoop's configuration carries (the job role's), over TLS trusting the emulator's CA,
 * and every write names the bucket's default SSE-KMS key, which the bucket policies require.
 *
 * Configuration (set by the local awsglue runtime): dataplat.s3.endpoint, dataplat.s3.ca-bundle,
 * dataplat.s3.region, dataplat.s3.access-key, dataplat.s3.secret-key, dataplat.s3.session-token.
 */
public class EmulatorS3FileSystem extends FileSystem {
    static final AtomicLong OBJECTS_OPENED = new AtomicLong();
    static final AtomicLong BYTES_READ = new AtomicLong();
    static final AtomicLong OBJECTS_WRITTEN = new AtomicLong();
    static final AtomicLong BYTES_WRITTEN = new AtomicLong();
    static final AtomicLong REQUESTS = new AtomicLong();
    static final Set<String> DISTINCT_OPENED = ConcurrentHashMap.newKeySet();
    /** Directories made with mkdirs in this JVM ("bucket/key"), until something deletes them. */
    static final Set<String> MADE_DIRECTORIES = ConcurrentHashMap.newKeySet();

    private URI uri;
    private String bucket;
    private Path workingDir;
    private S3Client client;

    /** What this JVM's jobs did to storage, as one JSON object (the run's log carries it). */
    public static String statistics() {
        return String.format(
            "{\"objectsOpened\": %d, \"distinctObjectsOpened\": %d, \"bytesRead\": %d, \"objectsWritten\": %d, \"bytesWritten\": %d, \"requests\": %d}",
            OBJECTS_OPENED.get(), DISTINCT_OPENED.size(), BYTES_READ.get(), OBJECTS_WRITTEN.get(), BYTES_WRITTEN.get(), REQUESTS.get());
    }

    @Override
    public void initialize(URI name, Configuration conf) throws IOException {
        super.initialize(name, conf);
        setConf(conf);
        bucket = name.getAuthority();
        if (bucket == null || bucket.isEmpty()) throw new IOException("no bucket in " + name);
        uri = URI.create(name.getScheme() + "://" + bucket);
        workingDir = new Path(uri.toString() + "/");
        client = new S3Client(
            require(conf, "dataplat.s3.endpoint"), require(conf, "dataplat.s3.ca-bundle"), conf.get("dataplat.s3.region", "us-east-1"),
            require(conf, "dataplat.s3.access-key"), require(conf, "dataplat.s3.secret-key"), conf.get("dataplat.s3.session-token"));
    }

    private static String require(Configuration conf, String key) throws IOException {
        String value = conf.get(key);
        if (value == null || value.isEmpty()) {
            throw new IOException(key + " is not set: EmulatorS3FileSystem serves s3:// only inside the emulator's Glue runtime");
        }
        return value;
    }

    @Override
    public String getScheme() {
        return uri == null ? "s3" : uri.getScheme();
    }

    @Override
    public URI getUri() {
        return uri;
    }

    private String key(Path path) {
        Path qualified = makeQualified(path);
        String p = qualified.toUri().getPath();
        while (p.startsWith("/")) p = p.substring(1);
        while (p.endsWith("/")) p = p.substring(0, p.length() - 1);
        return p;
    }

    private Path pathOf(String key) {
        return new Path(uri.getScheme(), bucket, "/" + key);
    }

    private String dirPrefix(String key) {
        return key.isEmpty() ? "" : key + "/";
    }

    @Override
    public FSDataInputStream open(Path path, int bufferSize) throws IOException {
        String key = key(path);
        File tmp = Files.createTempFile("s3-get-", ".obj").toFile();
        long size;
        try {
            size = client.get(bucket, key, tmp);
        } catch (IOException e) {
            tmp.delete();
            throw e;
        }
        if (size < 0) {
            tmp.delete();
            throw new FileNotFoundException(path.toString());
        }
        OBJECTS_OPENED.incrementAndGet();
        DISTINCT_OPENED.add(bucket + "/" + key);
        BYTES_READ.addAndGet(size);
        return new FSDataInputStream(new StagedInput(tmp));
    }

    @Override
    public FSDataOutputStream create(Path path, FsPermission permission, boolean overwrite, int bufferSize, short replication,
                                     long blockSize, Progressable progress) throws IOException {
        String key = key(path);
        if (!overwrite && client.head(bucket, key) != null) throw new FileAlreadyExistsException(path.toString());
        File tmp = Files.createTempFile("s3-put-", ".obj").toFile();
        return new FSDataOutputStream(new StagedOutput(tmp, key), statistics);
    }

    @Override
    public FSDataOutputStream append(Path path, int bufferSize, Progressable progress) throws IOException {
        throw new IOException("append is not supported on S3 (" + path + ")");
    }

    @Override
    public boolean rename(Path src, Path dst) throws IOException {
        FileStatus from;
        try {
            from = getFileStatus(src);
        } catch (FileNotFoundException e) {
            return false;
        }
        String srcKey = key(src);
        String dstKey = key(dst);
        try {
            if (getFileStatus(dst).isDirectory()) dstKey = dirPrefix(dstKey) + src.getName();
        } catch (FileNotFoundException ignored) {
            // renaming to a new name
        }
        if (srcKey.equals(dstKey)) return true;
        if (from.isFile()) {
            client.copy(bucket, srcKey, dstKey);
            client.delete(bucket, srcKey);
            return true;
        }
        if (dstKey.startsWith(dirPrefix(srcKey))) throw new IOException("cannot rename " + src + " into itself (" + dst + ")");
        String prefix = dirPrefix(srcKey);
        for (S3Client.Entry entry : client.listAll(bucket, prefix)) {
            String rel = entry.key.substring(prefix.length());
            client.copy(bucket, entry.key, dirPrefix(dstKey) + rel);
            client.delete(bucket, entry.key);
        }
        moveMadeDirectories(srcKey, dstKey);
        return true;
    }

    private void moveMadeDirectories(String srcKey, String dstKey) {
        for (String dir : new ArrayList<>(MADE_DIRECTORIES)) {
            String own = bucket + "/" + srcKey;
            if (dir.equals(own) || dir.startsWith(own + "/")) {
                MADE_DIRECTORIES.remove(dir);
                MADE_DIRECTORIES.add(bucket + "/" + dstKey + dir.substring(own.length()));
            }
        }
    }

    @Override
    public boolean delete(Path path, boolean recursive) throws IOException {
        String key = key(path);
        FileStatus status;
        try {
            status = getFileStatus(path);
        } catch (FileNotFoundException e) {
            return false;
        }
        if (status.isFile()) {
            client.delete(bucket, key);
            return true;
        }
        List<S3Client.Entry> children = client.listAll(bucket, dirPrefix(key));
        if (!children.isEmpty() && !recursive) throw new IOException("directory " + path + " is not empty");
        for (S3Client.Entry entry : children) client.delete(bucket, entry.key);
        String own = bucket + "/" + key;
        MADE_DIRECTORIES.removeIf(dir -> key.isEmpty() ? dir.startsWith(bucket + "/") : dir.equals(own) || dir.startsWith(own + "/"));
        return true;
    }

    @Override
    public FileStatus[] listStatus(Path path) throws IOException {
        String key = key(path);
        S3Client.Listing listing = client.list(bucket, dirPrefix(key), "/");
        List<FileStatus> out = new ArrayList<>();
        for (S3Client.Entry entry : listing.objects) {
            if (entry.key.equals(dirPrefix(key))) continue;
            out.add(fileStatus(entry));
        }
        for (String prefix : listing.prefixes) out.add(dirStatus(prefix.substring(0, prefix.length() - 1)));
        for (String dir : MADE_DIRECTORIES) {
            String own = bucket + "/" + dirPrefix(key);
            if (dir.startsWith(own) && !dir.substring(own.length()).contains("/")) {
                String child = dir.substring(bucket.length() + 1);
                if (!listing.prefixes.contains(child + "/")) out.add(dirStatus(child));
            }
        }
        if (out.isEmpty()) {
            FileStatus self = getFileStatus(path); // throws FileNotFoundException when nothing is there
            if (self.isFile()) return new FileStatus[] {self};
        }
        return out.toArray(new FileStatus[0]);
    }

    private FileStatus fileStatus(S3Client.Entry entry) {
        return new FileStatus(entry.size, false, 1, 64L * 1024 * 1024, entry.lastModified, pathOf(entry.key));
    }

    private FileStatus dirStatus(String key) {
        return new FileStatus(0, true, 1, 0, 0, pathOf(key));
    }

    @Override
    public FileStatus getFileStatus(Path path) throws IOException {
        String key = key(path);
        if (key.isEmpty()) return dirStatus("");
        S3Client.Entry head = client.head(bucket, key);
        if (head != null) return fileStatus(head);
        if (!client.list(bucket, dirPrefix(key), "/", 1).isEmpty() || MADE_DIRECTORIES.contains(bucket + "/" + key)) return dirStatus(key);
        throw new FileNotFoundException(path.toString());
    }

    @Override
    public boolean mkdirs(Path path, FsPermission permission) throws IOException {
        String key = key(path);
        if (client.head(bucket, key) != null) throw new FileAlreadyExistsException("a file exists at " + path);
        Path p = makeQualified(path);
        while (p != null && !p.isRoot()) {
            MADE_DIRECTORIES.add(bucket + "/" + key(p));
            p = p.getParent();
        }
        return true;
    }

    @Override
    public void setWorkingDirectory(Path dir) {
        workingDir = makeQualified(dir);
    }

    @Override
    public Path getWorkingDirectory() {
        return workingDir;
    }

    /** A staged object read from its temp file; the file goes when the stream closes. */
    private static final class StagedInput extends FSInputStream {
        private final File file;
        private final RandomAccessFile in;

        StagedInput(File file) throws IOException {
            this.file = file;
            this.in = new RandomAccessFile(file, "r");
        }

        @Override
        public void seek(long pos) throws IOException {
            in.seek(pos);
        }

        @Override
        public long getPos() throws IOException {
            return in.getFilePointer();
        }

        @Override
        public boolean seekToNewSource(long targetPos) {
            return false;
        }

        @Override
        public int read() throws IOException {
            return in.read();
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            return in.read(b, off, len);
        }

        @Override
        public int available() throws IOException {
            long left = in.length() - in.getFilePointer();
            return (int) Math.min(Integer.MAX_VALUE, Math.max(0, left));
        }

        @Override
        public void close() throws IOException {
            in.close();
            file.delete();
        }
    }

    /** Written to a temp file, PUT as one object when closed (S3 objects appear whole). */
    private final class StagedOutput extends OutputStream {
        private final File file;
        private final String key;
        private final OutputStream out;
        private boolean closed;

        StagedOutput(File file, String key) throws IOException {
            this.file = file;
            this.key = key;
            this.out = new FileOutputStream(file);
        }

        @Override
        public void write(int b) throws IOException {
            out.write(b);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
        }

        @Override
        public void flush() throws IOException {
            out.flush();
        }

        @Override
        public void close() throws IOException {
            if (closed) return;
            closed = true;
            out.close();
            try {
                client.put(bucket, key, file);
                OBJECTS_WRITTEN.incrementAndGet();
                BYTES_WRITTEN.addAndGet(file.length());
            } finally {
                file.delete();
            }
        }
    }
}
