/*
 * The native load generator of the tcp-echo benchmark: one thread, epoll, non-blocking sockets.
 * It runs the same four scenarios as the JavaScript generator (bench/generator/worker.ts), with the
 * same byte pattern (bench/generator/pattern.ts) so every echoed byte is verified with a memcmp,
 * and prints one JSON line in the shape of a WorkerResult (bench/generator/protocol.ts).
 *
 * It exists so the instrument costs less CPU per operation than the bare echo it drives: a
 * JavaScript client pays Node's per-chunk stream machinery just like the server, so it saturates
 * first and hides the server's cost. Built by the bench with `cc -O2` (bench/lib/native.ts).
 *
 * Usage: loadgen --scenario throughput|pingpong|connrate|idle --host 127.0.0.1 --port N
 *   --connections N --message-size B --window B --request-size B
 *   --measure-start EPOCH_MS --measure-end EPOCH_MS --connect-concurrency N
 *   --drain-timeout-ms MS --phase-seed N
 * idle: prints `held <established>` once every connection echoed once, then holds them until a line
 * (or EOF) arrives on stdin, closes them and reports. Every scenario exits after its result line
 * once stdin is closed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PERIOD 65521u
#define MAX_SLICE (1u << 20)
#define READ_SIZE 65536
#define BUCKETS 3000
#define MIN_US 0.1
#define GROWTH 1.01
#define MAX_EVENTS 1024
#define MAX_ERRNO 200
#define RETRY_DELAY_MS 10.0

enum scenario { THROUGHPUT, PINGPONG, CONNRATE, IDLE };

static struct {
  enum scenario scenario;
  struct sockaddr_in addr;
  int connections, message_size, window, request_size, connect_concurrency, drain_timeout_ms;
  double measure_start, measure_end;
  uint32_t phase_seed;
  bool spread_sources;
} cfg = { .connections = 1, .message_size = 16384, .window = 262144, .request_size = 32, .connect_concurrency = 64, .drain_timeout_ms = 10000 };

struct conn {
  int fd;               /* -1 when the slot holds no socket */
  bool connected, fin_sent, settled;
  uint32_t phase;
  uint64_t sent, received;
  /* pingpong/connrate/idle: bytes of the current request still to write */
  uint32_t out_left;
  double started_us;    /* monotonic, for latencies */
  double retry_at_ms;   /* connrate: restart the loop after a failure at this time (0 = none) */
};

static unsigned char *pattern;
static unsigned char readbuf[READ_SIZE];
static struct conn *conns;
static int epfd;
static int open_count;

static struct {
  uint64_t total_bytes, total_ops, window_start_bytes, window_start_ops, window_bytes, window_ops;
  uint64_t verify_failures, incomplete, established, settled, started;
  uint64_t errors[MAX_ERRNO + 2]; /* by errno; [MAX_ERRNO] = other, [MAX_ERRNO + 1] = early EOF */
  bool in_window, window_done, stopping, held_reported;
  double drain_deadline;
  uint32_t next_phase;
} st;

static struct { double counts[BUCKETS]; uint64_t count; double sum, min, max; } hist = { .min = INFINITY };

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void record_latency(double us) {
  int i = us <= MIN_US ? 0 : (int)floor(log(us / MIN_US) / log(GROWTH));
  if (i >= BUCKETS) i = BUCKETS - 1;
  hist.counts[i] += 1;
  hist.count++;
  hist.sum += us;
  if (us < hist.min) hist.min = us;
  if (us > hist.max) hist.max = us;
}

static void count_error(int err) { st.errors[err > 0 && err < MAX_ERRNO ? err : MAX_ERRNO]++; }

/* Each connection starts the pattern at its own offset (as worker.ts), so a cross-connection mix-up is caught. */
static uint32_t next_phase(void) {
  st.next_phase = (st.next_phase + 104729u) % PERIOD;
  return st.next_phase;
}

static const unsigned char *slice(uint64_t offset) { return pattern + (offset % PERIOD); }

static void close_conn(struct conn *c) {
  if (c->fd < 0) return;
  close(c->fd);
  c->fd = -1;
  open_count--;
}

static void settle(struct conn *c, bool ok);

/* A connect could not even start: connrate retries later, idle counts the connection as failed. */
static void open_failed(struct conn *c, int err) {
  count_error(err);
  close_conn(c);
  if (cfg.scenario == CONNRATE) c->retry_at_ms = now_ms() + RETRY_DELAY_MS;
  if (cfg.scenario == IDLE) settle(c, false);
}

/*
 * connrate closes first, so each cycle leaves a TIME_WAIT on our side for 60 s, holding its
 * 4-tuple. From one source address to one server port there are only ip_local_port_range ports
 * (28,232 here): at 20,000 cycles/s they are all held within two seconds, and from then on every
 * connect() searches the TIME_WAIT buckets for one it may reuse, a cost that lands on the
 * generator and grows with the run. Loopback answers on all of 127.0.0.0/8, so connrate spreads
 * its connections over SOURCE_ADDRESSES source addresses (bound without a port, so the kernel
 * still picks the port at connect time, per 4-tuple): then a free port is found at once.
 */
#define SOURCE_ADDRESSES 1024u
static uint32_t source_seq;

static void bind_next_source(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  struct sockaddr_in src = { .sin_family = AF_INET, .sin_port = 0 };
  /* 127.2.0.1 ... 127.2.4.0: never 127.0.0.1, which other processes of the machine use. */
  src.sin_addr.s_addr = htonl(0x7f020000u + 1u + source_seq++ % SOURCE_ADDRESSES);
  bind(fd, (struct sockaddr *)&src, sizeof src); /* on failure connect() picks the source itself */
}

static void open_conn(struct conn *c) {
  memset(c, 0, sizeof *c);
  c->fd = -1;
  c->phase = next_phase();
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return open_failed(c, errno);
  /* One write per connect-echo-close needs no TCP_NODELAY (Nagle never holds a first segment):
   * a syscall saved per connection. Streams and request-response need it. */
  if (cfg.scenario == THROUGHPUT || cfg.scenario == PINGPONG) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  c->fd = fd;
  open_count++;
  c->started_us = mono_us();
  /* Edge-triggered and registered once: no epoll_ctl per state change. EPOLLOUT's first edge is
   * the connect's completion; EPOLLRDHUP tells a FIN that arrived with the last data. */
  struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c };
  epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
  if (cfg.spread_sources) bind_next_source(fd);
  if (connect(fd, (struct sockaddr *)&cfg.addr, sizeof cfg.addr) < 0 && errno != EINPROGRESS) open_failed(c, errno);
}

/* Writes what is left of the current request; true when it is all written. */
static bool write_request(struct conn *c) {
  while (c->out_left > 0) {
    ssize_t n = write(c->fd, slice(c->phase + c->sent), c->out_left);
    if (n < 0) {
      if (errno == EAGAIN) break;
      return false;
    }
    c->sent += n;
    c->out_left -= n;
  }
  return true;
}

static void begin_request(struct conn *c) {
  c->started_us = c->started_us == 0 || cfg.scenario == PINGPONG ? mono_us() : c->started_us;
  c->out_left = cfg.request_size;
}

static void send_fin(struct conn *c) {
  if (c->fin_sent) return;
  c->fin_sent = true;
  shutdown(c->fd, SHUT_WR);
}

/* throughput: keep at most `window` bytes in flight; FIN once the run stops and all came back. */
static bool pump(struct conn *c) {
  while (!st.stopping && c->sent - c->received + cfg.message_size <= (uint64_t)cfg.window) {
    ssize_t n = write(c->fd, slice(c->phase + c->sent), cfg.message_size);
    if (n < 0) {
      /* Edge-triggered: the next EPOLLOUT edge resumes. */
      return errno == EAGAIN;
    }
    c->sent += n;
  }
  if (st.stopping && c->received == c->sent) send_fin(c);
  return true;
}

static void idle_next(void);

/* idle: a connection echoed once (ok) or failed. */
static void settle(struct conn *c, bool ok) {
  if (c->settled) return;
  c->settled = true;
  if (ok) st.established++;
  st.settled++;
  idle_next();
}

static void idle_next(void) {
  while (st.started < (uint64_t)cfg.connections && st.started - st.settled < (uint64_t)cfg.connect_concurrency) {
    open_conn(&conns[st.started++]);
  }
  if (st.settled == (uint64_t)cfg.connections && !st.held_reported) {
    st.held_reported = true;
    printf("held %llu\n", (unsigned long long)st.established);
    fflush(stdout);
  }
}

/* The connection failed (error, bad bytes, early close). */
static void fail(struct conn *c, int err) {
  if (err >= 0) count_error(err);
  close_conn(c);
  if (cfg.scenario == CONNRATE && !st.stopping) c->retry_at_ms = now_ms() + RETRY_DELAY_MS;
  if (cfg.scenario == IDLE) settle(c, false);
}

static void on_connected(struct conn *c, uint32_t events) {
  if (events & (EPOLLERR | EPOLLHUP)) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    return fail(c, err != 0 ? err : ECONNREFUSED);
  }
  c->connected = true;
  if (cfg.scenario == THROUGHPUT) {
    if (!pump(c)) fail(c, errno);
    return;
  }
  begin_request(c);
  if (!write_request(c)) fail(c, errno);
}

static void on_eof(struct conn *c) {
  bool complete = c->fin_sent && c->received == c->sent;
  if (cfg.scenario == CONNRATE && complete && c->received == (uint64_t)cfg.request_size) {
    st.total_ops++;
    if (st.in_window) record_latency(mono_us() - c->started_us);
    close_conn(c);
    if (!st.stopping) open_conn(c);
    return;
  }
  if (complete) return close_conn(c);
  /* The server closed before the echo was complete (or, idle, before it was released). */
  st.errors[MAX_ERRNO + 1]++;
  fail(c, -1);
}

/* Edge-triggered: reads until a short read (drained) unless the peer's FIN is pending too. */
static void on_readable(struct conn *c, bool fin_pending) {
  for (;;) {
    ssize_t n = read(c->fd, readbuf, READ_SIZE);
    if (n == 0) return on_eof(c);
    if (n < 0) {
      if (errno == EAGAIN) return;
      return fail(c, errno);
    }
    if (c->received + n > c->sent || memcmp(readbuf, slice(c->phase + c->received), n) != 0) {
      st.verify_failures++;
      return fail(c, -1);
    }
    c->received += n;
    st.total_bytes += n;
    switch (cfg.scenario) {
      case THROUGHPUT:
        if (!pump(c)) return fail(c, errno);
        break;
      case PINGPONG:
        if (c->received == c->sent && c->out_left == 0) {
          st.total_ops++;
          if (st.in_window) record_latency(mono_us() - c->started_us);
          if (st.stopping) send_fin(c);
          else {
            begin_request(c);
            if (!write_request(c)) return fail(c, errno);
          }
        }
        break;
      case CONNRATE:
        /* Our FIN after the full echo; the cycle ends when the server's FIN arrives. */
        if (c->received == (uint64_t)cfg.request_size) send_fin(c);
        break;
      case IDLE:
        if (c->received == (uint64_t)cfg.request_size) settle(c, true);
        break;
    }
    if (n < READ_SIZE && !fin_pending) return;
    if (c->fd < 0) return;
  }
}

static void on_writable(struct conn *c) {
  if (cfg.scenario == THROUGHPUT) {
    if (!pump(c)) fail(c, errno);
  } else if (!write_request(c)) fail(c, errno);
}

/* The measured window closed: no new work; connections wind down. */
static void stop_all(void) {
  st.stopping = true;
  st.drain_deadline = now_ms() + cfg.drain_timeout_ms;
  int n = cfg.scenario == IDLE ? (int)st.started : cfg.connections;
  for (int i = 0; i < n; i++) {
    struct conn *c = &conns[i];
    c->retry_at_ms = 0;
    if (c->fd < 0 || !c->connected) continue;
    if (cfg.scenario == THROUGHPUT && c->received == c->sent) send_fin(c);
    if (cfg.scenario == PINGPONG && c->received == c->sent && c->out_left == 0) send_fin(c);
    if (cfg.scenario == IDLE) send_fin(c);
  }
}

static void print_result(void) {
  printf("{\"windowBytes\":%llu,\"totalBytes\":%llu,\"windowOps\":%llu,\"totalOps\":%llu,",
         (unsigned long long)st.window_bytes, (unsigned long long)st.total_bytes, (unsigned long long)st.window_ops,
         (unsigned long long)st.total_ops);
  if (hist.count == 0) printf("\"latency\":null,");
  else {
    printf("\"latency\":{\"count\":%llu,\"sum\":%.3f,\"min\":%.3f,\"max\":%.3f,\"buckets\":[", (unsigned long long)hist.count, hist.sum,
           hist.min, hist.max);
    bool first = true;
    for (int i = 0; i < BUCKETS; i++) {
      if (hist.counts[i] == 0) continue;
      printf("%s[%d,%.0f]", first ? "" : ",", i, hist.counts[i]);
      first = false;
    }
    printf("]},");
  }
  printf("\"errors\":{");
  bool first = true;
  for (int e = 0; e < MAX_ERRNO + 2; e++) {
    if (st.errors[e] == 0) continue;
    const char *name = e == MAX_ERRNO + 1 ? "EOF_BEFORE_ECHO" : e == MAX_ERRNO ? "OTHER" : strerrorname_np(e);
    printf("%s\"%s\":%llu", first ? "" : ",", name ? name : "UNKNOWN", (unsigned long long)st.errors[e]);
    first = false;
  }
  printf("},\"verifyFailures\":%llu,\"incomplete\":%llu,\"established\":%llu}\n", (unsigned long long)st.verify_failures,
         (unsigned long long)st.incomplete, (unsigned long long)st.established);
  fflush(stdout);
}

static int parse_args(int argc, char **argv) {
  const char *host = "127.0.0.1";
  int port = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *k = argv[i], *v = argv[i + 1];
    if (!strcmp(k, "--scenario")) {
      if (!strcmp(v, "throughput")) cfg.scenario = THROUGHPUT;
      else if (!strcmp(v, "pingpong")) cfg.scenario = PINGPONG;
      else if (!strcmp(v, "connrate")) cfg.scenario = CONNRATE;
      else if (!strcmp(v, "idle")) cfg.scenario = IDLE;
      else return fprintf(stderr, "loadgen: unknown scenario '%s'\n", v), -1;
    } else if (!strcmp(k, "--host")) host = v;
    else if (!strcmp(k, "--port")) port = atoi(v);
    else if (!strcmp(k, "--connections")) cfg.connections = atoi(v);
    else if (!strcmp(k, "--message-size")) cfg.message_size = atoi(v);
    else if (!strcmp(k, "--window")) cfg.window = atoi(v);
    else if (!strcmp(k, "--request-size")) cfg.request_size = atoi(v);
    else if (!strcmp(k, "--measure-start")) cfg.measure_start = atof(v);
    else if (!strcmp(k, "--measure-end")) cfg.measure_end = atof(v);
    else if (!strcmp(k, "--connect-concurrency")) cfg.connect_concurrency = atoi(v);
    else if (!strcmp(k, "--drain-timeout-ms")) cfg.drain_timeout_ms = atoi(v);
    else if (!strcmp(k, "--phase-seed")) cfg.phase_seed = (uint32_t)strtoul(v, NULL, 10);
    else return fprintf(stderr, "loadgen: unknown flag '%s'\n", k), -1;
  }
  if (port <= 0 || port > 65535) return fprintf(stderr, "loadgen: --port is required\n"), -1;
  if (cfg.connections < 1 || cfg.request_size < 1 || cfg.message_size < 1 || cfg.window < cfg.message_size ||
      (uint32_t)cfg.message_size > MAX_SLICE || (uint32_t)cfg.request_size > MAX_SLICE || cfg.connect_concurrency < 1) {
    return fprintf(stderr, "loadgen: bad sizes (connections ≥ 1, window ≥ message-size, sizes ≤ 1 MiB)\n"), -1;
  }
  cfg.addr.sin_family = AF_INET;
  cfg.addr.sin_port = htons(port);
  if (inet_pton(AF_INET, host, &cfg.addr.sin_addr) != 1) return fprintf(stderr, "loadgen: --host must be an IPv4 address\n"), -1;
  cfg.spread_sources = cfg.scenario == CONNRATE && (ntohl(cfg.addr.sin_addr.s_addr) >> 24) == 127;
  return 0;
}

int main(int argc, char **argv) {
  if (parse_args(argc, argv) < 0) return 2;
  /* idle holds thousands of sockets: the soft descriptor limit up to the hard one. */
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  pattern = malloc(PERIOD + MAX_SLICE);
  for (uint32_t i = 0; i < PERIOD + MAX_SLICE; i++) pattern[i] = (unsigned char)(((i % PERIOD) + 1u) * 0x9e3779b1u >> 24);
  st.next_phase = cfg.phase_seed % PERIOD;
  conns = calloc(cfg.connections, sizeof *conns);
  for (int i = 0; i < cfg.connections; i++) conns[i].fd = -1;
  epfd = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event events[MAX_EVENTS];
  if (cfg.scenario == IDLE) {
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
    epoll_ctl(epfd, EPOLL_CTL_ADD, STDIN_FILENO, &ev);
    idle_next();
  } else {
    for (int i = 0; i < cfg.connections; i++) open_conn(&conns[i]);
  }
  for (;;) {
    double now = now_ms();
    if (cfg.scenario != IDLE) {
      if (!st.in_window && !st.window_done && now >= cfg.measure_start) {
        st.in_window = true;
        st.window_start_bytes = st.total_bytes;
        st.window_start_ops = st.total_ops;
      }
      if (!st.window_done && now >= cfg.measure_end) {
        st.in_window = false;
        st.window_done = true;
        st.window_bytes = st.total_bytes - st.window_start_bytes;
        st.window_ops = st.total_ops - st.window_start_ops;
        stop_all();
      }
    }
    /* connrate loops that failed restart after a short pause, so a refusing server is no busy spin. */
    double next_retry = INFINITY;
    if (cfg.scenario == CONNRATE && !st.stopping) {
      for (int i = 0; i < cfg.connections; i++) {
        struct conn *c = &conns[i];
        if (c->fd >= 0 || c->retry_at_ms == 0) continue;
        if (c->retry_at_ms <= now) open_conn(c);
        else if (c->retry_at_ms < next_retry) next_retry = c->retry_at_ms;
      }
    }
    if (st.stopping && open_count == 0) break;
    if (st.stopping && now >= st.drain_deadline) {
      st.incomplete += open_count;
      for (int i = 0; i < cfg.connections; i++) close_conn(&conns[i]);
      break;
    }
    double deadline = st.stopping ? st.drain_deadline : cfg.scenario == IDLE ? INFINITY : st.in_window ? cfg.measure_end : cfg.measure_start;
    if (next_retry < deadline) deadline = next_retry;
    int timeout = deadline == INFINITY ? -1 : (int)ceil(deadline - now);
    if (timeout < 0 && deadline != INFINITY) timeout = 0;
    int n = epoll_wait(epfd, events, MAX_EVENTS, timeout);
    if (n < 0 && errno != EINTR) return perror("loadgen: epoll_wait"), 2;
    for (int i = 0; i < n; i++) {
      struct conn *c = events[i].data.ptr;
      if (c == NULL) {
        /* idle: the bench asked to release the held connections (a line or EOF on stdin). */
        char line[64];
        (void)!read(STDIN_FILENO, line, sizeof line);
        epoll_ctl(epfd, EPOLL_CTL_DEL, STDIN_FILENO, NULL);
        stop_all();
        continue;
      }
      if (c->fd < 0) continue;
      uint32_t e = events[i].events;
      /* A connrate slot reopens at once on EOF: events of this batch belong to the old socket only. */
      int fd = c->fd;
      if (!c->connected) {
        /* Writable, hung up or failed: the connect finished one way or the other. */
        on_connected(c, e);
        if (c->fd < 0 || !(e & EPOLLIN)) continue;
      } else if ((e & EPOLLOUT) && !(e & EPOLLIN)) {
        on_writable(c);
        continue;
      }
      if (e & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) on_readable(c, (e & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0);
      if (c->fd == fd && c->connected && (e & EPOLLOUT)) on_writable(c);
    }
  }
  print_result();
  /* Stay until the bench closes stdin: it reads this process's CPU time at the end of the measured
   * window, which must not find the process gone (a race with a fast wind-down). */
  char rest[64];
  while (read(STDIN_FILENO, rest, sizeof rest) > 0) {
  }
  return 0;
}
