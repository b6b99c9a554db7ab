package dataplat.bench;

import java.io.IOException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;

/**
 * The local file system Spark uses in the bench, counting every file it opens for reading (Spark,
 * Parquet and the jobs' own reads all come through open()). Bytes read come from Hadoop's own
 * FileSystem statistics for the "file" scheme, which this class inherits.
 */
public class CountingFileSystem extends RawLocalFileSystem {
  private static final ConcurrentHashMap<String, AtomicLong> OPENED = new ConcurrentHashMap<>();

  @Override
  public FSDataInputStream open(Path f, int bufferSize) throws IOException {
    OPENED.computeIfAbsent(makeQualified(f).toString(), k -> new AtomicLong()).incrementAndGet();
    return super.open(f, bufferSize);
  }

  /** Every path opened since the last reset, once each. */
  public static String[] opened() {
    return OPENED.keySet().toArray(new String[0]);
  }

  /** Opens since the last reset, counting repeats. */
  public static long opens() {
    return OPENED.values().stream().mapToLong(AtomicLong::get).sum();
  }

  public static void reset() {
    OPENED.clear();
  }
}
