/*
 * Host build of the reference firmware: runs the protocol core on Linux against a serial device (a real
 * USB-serial adapter, or one end of a socat pty pair) and simulates the S0 inputs and the relay, so the
 * TypeScript side can be tested against the same C code that runs on the MCU.
 *
 *   gridlet-fw-host --port PATH [--device-id N] [--boot-id N] [--pulse-hz F] [--pulse-hz2 F] [--ppk N]
 *                   [--debounce-ms N] [--report-ms N] [--relay-settle-ms N] [--bounce] [--stuck-relay]
 *                   [--garbage-ms N]
 *
 * Pulses are generated on an ideal schedule (pulse k rises at k/F s after start) and fed to the core with
 * those timestamps, so a descheduled process catches up instead of losing pulses, and the count at any
 * uptime is exactly floor(uptime * F). --bounce adds contact bounce on both edges, which the debounce must
 * refuse. --garbage-ms writes random bytes (zeros included) between frames to exercise resynchronisation.
 */
#define _DEFAULT_SOURCE /* cfmakeraw */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "../proto.h"

#define FW_MAJOR 1
#define FW_MINOR 0
#define FW_PATCH 0

typedef struct {
  int fd;
  int stuck_relay;
  uint8_t relay_out[PROTO_MAX_CHANNELS];
  unsigned long dropped;
} host_io_t;

typedef struct {
  double hz;
  uint64_t next_pulse; /* index of the next pulse to generate, from 1 */
  int phase;           /* position inside the current pulse's edge sequence */
} sim_channel_t;

static volatile sig_atomic_t stop_requested = 0;
static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

static uint64_t start_us;
static uint64_t mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
static uint64_t uptime_ms(void) { return (mono_us() - start_us) / 1000u; }

static void host_write(void *ctx, const uint8_t *buf, size_t len) {
  host_io_t *io = ctx;
  while (len > 0) {
    ssize_t n = write(io->fd, buf, len);
    if (n > 0) {
      buf += n;
      len -= (size_t)n;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      /* Like a full UART ring on the MCU: drop the rest, the host's retry or the next report recovers. */
      io->dropped += len;
      return;
    }
  }
}

static void host_relay_drive(void *ctx, uint8_t ch, uint8_t on) {
  host_io_t *io = ctx;
  io->relay_out[ch] = on;
  fprintf(stderr, "fw: relay %u %s\n", ch, on ? "on" : "off");
}

static int host_relay_feedback(void *ctx, uint8_t ch) {
  host_io_t *io = ctx;
  return io->stuck_relay ? 0 : io->relay_out[ch];
}

/* One pulse as a list of edges: {level, which edge of the ideal pulse, ms after it}. Bounce is a short
 * glitch after each edge, which the core's debounce must refuse. */
typedef struct {
  uint8_t level, on_fall, delay_ms;
} sim_edge_t;
static const sim_edge_t clean_pulse[] = {{1, 0, 0}, {0, 1, 0}};
static const sim_edge_t bouncy_pulse[] = {{1, 0, 0}, {0, 0, 1}, {1, 0, 2}, {0, 1, 0}, {1, 1, 1}, {0, 1, 2}};

static void simulate(proto_t *p, sim_channel_t *sims, uint8_t n, int bounce, uint64_t now_ms) {
  const sim_edge_t *edges = bounce ? bouncy_pulse : clean_pulse;
  int n_edges = bounce ? 6 : 2;
  for (uint8_t ch = 0; ch < n; ch++) {
    sim_channel_t *s = &sims[ch];
    if (s->hz <= 0) continue;
    double period_ms = 1000.0 / s->hz;
    /* High for half the period, at most 30 ms: the S0 minimum, and what real meters send. */
    double width_ms = period_ms / 2 < 30 ? period_ms / 2 : 30;
    for (;;) {
      const sim_edge_t *e = &edges[s->phase];
      double t = (double)s->next_pulse * period_ms + (e->on_fall ? width_ms : 0) + e->delay_ms;
      if ((uint64_t)t > now_ms) break;
      proto_s0_edge(p, ch, e->level, (uint64_t)t);
      if (++s->phase == n_edges) {
        s->phase = 0;
        s->next_pulse++;
      }
    }
  }
}

static int open_port(const char *path) {
  int fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return -1;
  struct termios t;
  if (tcgetattr(fd, &t) == 0) {
    cfmakeraw(&t);
    cfsetispeed(&t, B115200);
    cfsetospeed(&t, B115200);
    tcsetattr(fd, TCSANOW, &t);
  }
  return fd;
}

static uint32_t random_u32(void) {
  uint32_t v = 0;
  int fd = open("/dev/urandom", O_RDONLY);
  if (fd >= 0) {
    if (read(fd, &v, sizeof v) != (ssize_t)sizeof v) v = 0;
    close(fd);
  }
  return v ? v : (uint32_t)(mono_us() ^ ((uint64_t)getpid() << 16));
}

static unsigned long arg_ul(const char *name, const char *v) {
  char *end;
  unsigned long x = strtoul(v, &end, 0);
  if (*v == 0 || *end != 0) {
    fprintf(stderr, "fw: %s needs a number, got '%s'\n", name, v);
    exit(2);
  }
  return x;
}

int main(int argc, char **argv) {
  const char *port = NULL;
  proto_config_t cfg = {0};
  sim_channel_t sims[PROTO_MAX_CHANNELS] = {{0}};
  int bounce = 0, stuck = 0;
  unsigned long garbage_ms = 0;
  int boot_id_given = 0;
  cfg.fw_major = FW_MAJOR;
  cfg.fw_minor = FW_MINOR;
  cfg.fw_patch = FW_PATCH;
  cfg.device_id = 1;
  cfg.s0_channels = 2;
  cfg.relay_channels = 1;
  cfg.pulses_per_kwh = 1000;
  cfg.debounce_ms = 5;
  cfg.report_interval_ms = 1000;
  cfg.relay_settle_ms = 20;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : "";
    if (!strcmp(a, "--bounce")) bounce = 1;
    else if (!strcmp(a, "--stuck-relay")) stuck = 1;
    else if (!strcmp(a, "--port")) port = argv[++i];
    else if (!strcmp(a, "--device-id")) cfg.device_id = (uint32_t)arg_ul(a, v), i++;
    else if (!strcmp(a, "--boot-id")) cfg.boot_id = (uint32_t)arg_ul(a, v), boot_id_given = 1, i++;
    else if (!strcmp(a, "--pulse-hz")) sims[0].hz = atof(v), i++;
    else if (!strcmp(a, "--pulse-hz2")) sims[1].hz = atof(v), i++;
    else if (!strcmp(a, "--ppk")) cfg.pulses_per_kwh = (uint32_t)arg_ul(a, v), i++;
    else if (!strcmp(a, "--debounce-ms")) cfg.debounce_ms = (uint16_t)arg_ul(a, v), i++;
    else if (!strcmp(a, "--report-ms")) cfg.report_interval_ms = (uint32_t)arg_ul(a, v), i++;
    else if (!strcmp(a, "--relay-settle-ms")) cfg.relay_settle_ms = (uint16_t)arg_ul(a, v), i++;
    else if (!strcmp(a, "--garbage-ms")) garbage_ms = arg_ul(a, v), i++;
    else {
      fprintf(stderr, "fw: unknown argument '%s'\n", a);
      return 2;
    }
  }
  if (!port) {
    fprintf(stderr, "fw: --port PATH is required\n");
    return 2;
  }
  if (!boot_id_given) cfg.boot_id = random_u32();
  for (int ch = 0; ch < PROTO_MAX_CHANNELS; ch++) sims[ch].next_pulse = 1;

  host_io_t io = {0};
  io.stuck_relay = stuck;
  io.fd = open_port(port);
  if (io.fd < 0) {
    fprintf(stderr, "fw: cannot open %s: %s\n", port, strerror(errno));
    return 1;
  }
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  srand(cfg.boot_id);

  static proto_t p;
  proto_io_t pio = {host_write, host_relay_drive, host_relay_feedback, &io};
  start_us = mono_us();
  proto_init(&p, &cfg, &pio, 0);
  printf("READY boot_id=%u\n", (unsigned)cfg.boot_id);
  fflush(stdout);

  uint64_t next_garbage = garbage_ms;
  while (!stop_requested) {
    struct pollfd pfd = {io.fd, POLLIN, 0};
    int r = poll(&pfd, 1, 2);
    uint64_t now = uptime_ms();
    /* Edges first, as the MCU's ISR would have queued them by now: an answer sent below must not claim
     * an uptime whose pulses have not been counted yet. */
    simulate(&p, sims, cfg.s0_channels, bounce, now);
    if (r > 0 && (pfd.revents & POLLIN)) {
      uint8_t buf[256];
      ssize_t n = read(io.fd, buf, sizeof buf);
      if (n > 0) proto_rx(&p, buf, (size_t)n, now);
    }
    proto_tick(&p, now);
    if (garbage_ms && now >= next_garbage) {
      uint8_t junk[40];
      size_t len = 8 + (size_t)(rand() % 32);
      for (size_t k = 0; k < len; k++) junk[k] = (uint8_t)rand();
      host_write(&io, junk, len);
      next_garbage = now + garbage_ms;
    }
  }
  fprintf(stderr, "fw: stopping, counts %u %u, rejected edges %u, rx errors %u, dropped bytes %lu\n",
          (unsigned)p.s0[0].count, (unsigned)p.s0[1].count, (unsigned)p.s0[0].rejected,
          (unsigned)p.rx_errors, io.dropped);
  close(io.fd);
  return 0;
}
