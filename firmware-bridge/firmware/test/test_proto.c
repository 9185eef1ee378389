/*
 * Host tests of the protocol core, plus two modes for the TypeScript cross-check:
 *   test_proto            run the unit tests; exit status 0 when all pass
 *   test_proto vectors    print "name hex" lines: frames the core itself produced, for the TS decoder
 *   test_proto decode     read hex frames (one per line, delimiter included) from stdin and print
 *                         "ok TYPE FLAGS SEQ PAYLOADHEX" or "err CODE" for each, for the TS encoder
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../proto.h"

static int failures = 0, checks = 0;
#define CHECK(cond)                                                   \
  do {                                                                \
    checks++;                                                         \
    if (!(cond)) {                                                    \
      failures++;                                                     \
      fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                 \
  } while (0)

/* ---- capture io ---- */

typedef struct {
  uint8_t out[4096];
  size_t len;
  uint8_t relay[PROTO_MAX_CHANNELS];
  int feedback; /* -1: none, 0: stuck open, 1: follows the output */
} cap_t;

static void cap_write(void *ctx, const uint8_t *b, size_t n) {
  cap_t *c = ctx;
  if (c->len + n <= sizeof c->out) {
    memcpy(c->out + c->len, b, n);
    c->len += n;
  }
}
static void cap_relay(void *ctx, uint8_t ch, uint8_t on) { ((cap_t *)ctx)->relay[ch] = on; }
static int cap_feedback(void *ctx, uint8_t ch) {
  cap_t *c = ctx;
  return c->feedback < 0 ? -1 : c->feedback ? c->relay[ch] : 0;
}

/* Splits captured output into frames; returns how many were decoded into fs. */
static int frames_out(cap_t *c, proto_frame_t *fs, int max) {
  int n = 0;
  size_t start = 0;
  for (size_t i = 0; i < c->len && n < max; i++) {
    if (c->out[i] != 0) continue;
    if (proto_frame_decode(c->out + start, i - start, &fs[n]) == PROTO_OK) n++;
    start = i + 1;
  }
  c->len = 0;
  return n;
}

static proto_config_t test_cfg(void) {
  proto_config_t cfg = {0};
  cfg.device_id = 0x01020304;
  cfg.boot_id = 0xA1B2C3D4;
  cfg.fw_major = 1;
  cfg.s0_channels = 2;
  cfg.relay_channels = 1;
  cfg.pulses_per_kwh = 1000;
  cfg.debounce_ms = 10;
  cfg.report_interval_ms = 1000;
  return cfg;
}

static void send_to(proto_t *p, uint8_t type, uint8_t flags, uint8_t seq, const uint8_t *pl, uint8_t len,
                    uint64_t now) {
  uint8_t wire[PROTO_MAX_WIRE];
  size_t n = proto_frame_encode(type, flags, seq, pl, len, wire);
  proto_rx(p, wire, n, now);
}

/* ---- tests ---- */

static void test_crc(void) {
  CHECK(proto_crc16((const uint8_t *)"123456789", 9) == 0x29B1);
  CHECK(proto_crc16(NULL, 0) == 0xFFFF);
}

static int cobs_case(const uint8_t *in, size_t n, const uint8_t *want, size_t wn) {
  uint8_t enc[600], dec[600];
  size_t en = proto_cobs_encode(in, n, enc);
  if (en != wn || memcmp(enc, want, wn) != 0) return 0;
  int dn = proto_cobs_decode(enc, en, dec, sizeof dec);
  return dn == (int)n && memcmp(dec, in, n) == 0;
}

static void test_cobs(void) {
  /* The examples from Cheshire and Baker's paper, as commonly tabulated. */
  CHECK(cobs_case((const uint8_t[]){0x00}, 1, (const uint8_t[]){0x01, 0x01}, 2));
  CHECK(cobs_case((const uint8_t[]){0x00, 0x00}, 2, (const uint8_t[]){0x01, 0x01, 0x01}, 3));
  CHECK(cobs_case((const uint8_t[]){0x11, 0x22, 0x00, 0x33}, 4, (const uint8_t[]){0x03, 0x11, 0x22, 0x02, 0x33}, 5));
  CHECK(cobs_case((const uint8_t[]){0x11, 0x00, 0x00, 0x00}, 4, (const uint8_t[]){0x02, 0x11, 0x01, 0x01, 0x01}, 5));
  uint8_t run[254], want[255];
  for (int i = 0; i < 254; i++) run[i] = (uint8_t)(i + 1);
  want[0] = 0xFF;
  memcpy(want + 1, run, 254);
  CHECK(cobs_case(run, 254, want, 255));
  uint8_t out[8];
  CHECK(proto_cobs_decode((const uint8_t[]){0x05, 0x11}, 2, out, sizeof out) == PROTO_E_COBS);
  CHECK(proto_cobs_decode((const uint8_t[]){0x02, 0x00}, 2, out, sizeof out) == PROTO_E_COBS);
  CHECK(proto_cobs_decode((const uint8_t[]){0x04, 1, 2, 3}, 4, out, 2) == PROTO_E_COBS);
}

static void test_frames(void) {
  uint8_t wire[PROTO_MAX_WIRE];
  const uint8_t pl[3] = {0x00, 0x07, 0x00};
  size_t n = proto_frame_encode(MSG_RELAY_STATE, PROTO_FLAG_RESPONSE, 9, pl, 3, wire);
  CHECK(n > 2 && wire[0] == 0 && wire[n - 1] == 0);
  for (size_t i = 1; i + 1 < n; i++) CHECK(wire[i] != 0);
  proto_frame_t f;
  CHECK(proto_frame_decode(wire + 1, n - 2, &f) == PROTO_OK);
  CHECK(f.type == MSG_RELAY_STATE && f.flags == PROTO_FLAG_RESPONSE && f.seq == 9 && f.len == 3);
  CHECK(memcmp(f.payload, pl, 3) == 0);
  /* A flipped payload bit must fail the CRC, not decode into something else. */
  uint8_t raw[PROTO_MAX_RAW], enc[PROTO_MAX_ENCODED];
  CHECK(proto_cobs_decode(wire + 1, n - 2, raw, sizeof raw) == 10);
  raw[6] ^= 0x01;
  size_t en = proto_cobs_encode(raw, 10, enc);
  CHECK(proto_frame_decode(enc, en, &f) == PROTO_E_CRC);
  /* Length field larger than the bytes received. */
  CHECK(proto_cobs_decode(wire + 1, n - 2, raw, sizeof raw) == 10);
  raw[4] = 4;
  en = proto_cobs_encode(raw, 10, enc);
  CHECK(proto_frame_decode(enc, en, &f) == PROTO_E_LENGTH);
  CHECK(proto_frame_decode((const uint8_t[]){0x03, 1, 2}, 3, &f) == PROTO_E_TOO_SHORT);
  uint8_t big[PROTO_MAX_ENCODED + 1];
  memset(big, 1, sizeof big);
  CHECK(proto_frame_decode(big, sizeof big, &f) == PROTO_E_TOO_LONG);
  CHECK(proto_frame_encode(MSG_PING, 0, 0, big, PROTO_MAX_PAYLOAD + 1, wire) == 0);
}

static void test_dispatch(void) {
  static proto_t p;
  cap_t c = {0};
  c.feedback = 1;
  proto_io_t io = {cap_write, cap_relay, cap_feedback, &c};
  proto_config_t cfg = test_cfg();
  proto_frame_t fs[16];

  proto_init(&p, &cfg, &io, 0);
  int n = frames_out(&c, fs, 16);
  CHECK(n == 1 && fs[0].type == MSG_HELLO && fs[0].flags == 0 && fs[0].len == 22);
  CHECK(fs[0].payload[3] == (CAP_S0 | CAP_RELAY | CAP_RELAY_FEEDBACK));

  send_to(&p, MSG_PING, 0, 42, (const uint8_t[]){0xAB, 0x00, 0xCD}, 3, 5);
  n = frames_out(&c, fs, 16);
  CHECK(n == 1 && fs[0].type == MSG_PONG && fs[0].seq == 42 && fs[0].flags == PROTO_FLAG_RESPONSE);
  CHECK(fs[0].len == 11 && fs[0].payload[0] == 5 && fs[0].payload[8] == 0xAB && fs[0].payload[10] == 0xCD);

  send_to(&p, MSG_PULSE_GET, 0, 1, (const uint8_t[]){7}, 1, 6);
  n = frames_out(&c, fs, 16);
  CHECK(n == 1 && fs[0].type == MSG_NACK && fs[0].payload[0] == MSG_PULSE_GET && fs[0].payload[1] == NACK_BAD_CHANNEL);

  send_to(&p, 0x7E, 0, 2, NULL, 0, 6);
  n = frames_out(&c, fs, 16);
  CHECK(n == 1 && fs[0].type == MSG_NACK && fs[0].payload[1] == NACK_UNKNOWN_TYPE && fs[0].seq == 2);

  send_to(&p, MSG_RELAY_SET, 0, 3, (const uint8_t[]){0, 1}, 2, 7);
  n = frames_out(&c, fs, 16);
  CHECK(c.relay[0] == 1);
  CHECK(n == 1 && fs[0].type == MSG_RELAY_STATE && fs[0].seq == 3 && fs[0].payload[1] == 1 && fs[0].payload[2] == 1);
  send_to(&p, MSG_RELAY_SET, 0, 4, (const uint8_t[]){0, 2}, 2, 7);
  n = frames_out(&c, fs, 16);
  CHECK(n == 1 && fs[0].type == MSG_NACK && fs[0].payload[1] == NACK_BAD_VALUE && c.relay[0] == 1);

  c.feedback = 0;
  send_to(&p, MSG_RELAY_GET, 0, 5, (const uint8_t[]){0}, 1, 8);
  n = frames_out(&c, fs, 16);
  CHECK(n == 1 && fs[0].type == MSG_RELAY_STATE && fs[0].payload[1] == 1 && fs[0].payload[2] == 0);

  /* Frames the host marks as responses are never answered. */
  send_to(&p, MSG_PING, PROTO_FLAG_RESPONSE, 6, NULL, 0, 9);
  CHECK(frames_out(&c, fs, 16) == 0);

  /* Wrong version with a good CRC is refused by name; noise is counted and reported at the next tick. */
  uint8_t raw[7] = {2, MSG_PING, 0, 77, 0, 0, 0}, enc[16];
  uint16_t crc = proto_crc16(raw, 5);
  raw[5] = (uint8_t)crc;
  raw[6] = (uint8_t)(crc >> 8);
  size_t en = proto_cobs_encode(raw, 7, enc);
  enc[en++] = 0;
  proto_rx(&p, enc, en, 10);
  n = frames_out(&c, fs, 16);
  CHECK(n == 1 && fs[0].type == MSG_NACK && fs[0].seq == 77 && fs[0].payload[1] == NACK_BAD_VERSION);
  const uint8_t noise[] = {0x13, 0x37, 0x00, 0x42, 0x42, 0x42, 0x00, 0x00};
  proto_rx(&p, noise, sizeof noise, 11);
  CHECK(frames_out(&c, fs, 16) == 0);
  CHECK(p.rx_errors == 3);

  send_to(&p, MSG_PULSE_CONFIG, 0, 8, (const uint8_t[]){1, 0, 0, 0, 0, 5, 0}, 7, 12);
  n = frames_out(&c, fs, 16);
  CHECK(n == 1 && fs[0].type == MSG_NACK && fs[0].payload[1] == NACK_BAD_VALUE);
  send_to(&p, MSG_PULSE_CONFIG, 0, 9, (const uint8_t[]){1, 0x10, 0x27, 0, 0, 5, 0}, 7, 12);
  n = frames_out(&c, fs, 16);
  CHECK(n == 1 && fs[0].type == MSG_ACK && fs[0].payload[0] == MSG_PULSE_CONFIG && p.s0[1].pulses_per_kwh == 10000);

  /* The feedback contact (stuck open since the RELAY_GET above) disagrees with the closed relay. */
  proto_tick(&p, 1000);
  n = frames_out(&c, fs, 16);
  CHECK(n == 4 && fs[0].type == MSG_FAULT && fs[0].payload[0] == FAULT_RELAY_FEEDBACK_MISMATCH);
  CHECK(fs[1].type == MSG_PULSE_COUNT && fs[2].type == MSG_PULSE_COUNT && fs[3].type == MSG_FAULT);
  CHECK(fs[3].payload[0] == FAULT_RX_ERRORS && fs[3].payload[2] == 3);
  proto_tick(&p, 1500);
  CHECK(frames_out(&c, fs, 16) == 0); /* each fault once */
}

static void test_relay_settle(void) {
  static proto_t p;
  cap_t c = {0};
  c.feedback = 1;
  proto_io_t io = {cap_write, cap_relay, cap_feedback, &c};
  proto_config_t cfg = test_cfg();
  cfg.relay_settle_ms = 50;
  cfg.report_interval_ms = 100000;
  proto_frame_t fs[8];
  proto_init(&p, &cfg, &io, 0);
  frames_out(&c, fs, 8);
  send_to(&p, MSG_RELAY_SET, 0, 10, (const uint8_t[]){0, 1}, 2, 100);
  CHECK(c.relay[0] == 1 && frames_out(&c, fs, 8) == 0); /* driven at once, answered after settling */
  send_to(&p, MSG_RELAY_SET, 0, 11, (const uint8_t[]){0, 1}, 2, 120); /* the host's retry */
  proto_tick(&p, 149);
  CHECK(frames_out(&c, fs, 8) == 0);
  proto_tick(&p, 150);
  int n = frames_out(&c, fs, 8);
  CHECK(n == 1 && fs[0].type == MSG_RELAY_STATE && fs[0].seq == 11 && fs[0].payload[2] == 1);
  /* A contactor that drops out on its own is reported once. */
  c.feedback = 0;
  proto_tick(&p, 200);
  proto_tick(&p, 210);
  n = frames_out(&c, fs, 8);
  CHECK(n == 1 && fs[0].type == MSG_FAULT && fs[0].payload[0] == FAULT_RELAY_FEEDBACK_MISMATCH && fs[0].payload[1] == 0);
}

static void test_debounce(void) {
  static proto_t p;
  cap_t c = {0};
  c.feedback = -1;
  proto_io_t io = {cap_write, cap_relay, NULL, &c};
  proto_config_t cfg = test_cfg();
  proto_init(&p, &cfg, &io, 0);
  /* Three pulses, each with bounce on both edges; only the three real rising edges count. */
  for (uint64_t k = 1; k <= 3; k++) {
    uint64_t t = k * 100;
    proto_s0_edge(&p, 0, 1, t);
    proto_s0_edge(&p, 0, 0, t + 1);
    proto_s0_edge(&p, 0, 1, t + 2);
    proto_s0_edge(&p, 0, 0, t + 40);
    proto_s0_edge(&p, 0, 1, t + 41);
    proto_s0_edge(&p, 0, 0, t + 42);
  }
  CHECK(p.s0[0].count == 3 && p.s0[0].rejected == 6 && p.s0[0].last_pulse_ms == 300);
  CHECK(p.s0[1].count == 0);
  proto_s0_edge(&p, 9, 1, 400); /* unknown channel: ignored */
  /* The count wraps like the uint32 it is on the wire; the host unwraps it. */
  p.s0[0].count = 0xFFFFFFFFu;
  proto_s0_edge(&p, 0, 1, 500);
  CHECK(p.s0[0].count == 0);
  CHECK(frames_out(&c, (proto_frame_t[4]){0}, 4) == 1); /* only the boot HELLO: edges send nothing */
}

/* ---- cross-check modes ---- */

static void print_hex(const char *name, const uint8_t *b, size_t n) {
  printf("%s ", name);
  for (size_t i = 0; i < n; i++) printf("%02x", b[i]);
  printf("\n");
}

static int vectors(void) {
  static proto_t p;
  cap_t c = {0};
  c.feedback = 1;
  proto_io_t io = {cap_write, cap_relay, cap_feedback, &c};
  proto_config_t cfg = test_cfg();
  cfg.boot_fault = FAULT_WATCHDOG_RESET;
  proto_init(&p, &cfg, &io, 1234);
  print_hex("hello+fault", c.out, c.len);
  c.len = 0;
  for (uint64_t t = 2000; t < 2000 + 7 * 50; t += 50) {
    proto_s0_edge(&p, 0, 1, t);
    proto_s0_edge(&p, 0, 0, t + 30);
  }
  p.s0[1].count = 0xFFFFFFF0u;
  proto_tick(&p, 0x1122334455ull);
  print_hex("pulse-counts", c.out, c.len);
  c.len = 0;
  send_to(&p, MSG_PING, 0, 200, (const uint8_t[]){0, 0, 0, 1}, 4, 0x1122334460ull);
  print_hex("pong", c.out, c.len);
  c.len = 0;
  send_to(&p, MSG_RELAY_SET, 0, 255, (const uint8_t[]){0, 1}, 2, 0x1122334470ull);
  print_hex("relay-state", c.out, c.len);
  c.len = 0;
  send_to(&p, MSG_RELAY_SET, 0, 0, (const uint8_t[]){3, 1}, 2, 0x1122334470ull);
  print_hex("nack", c.out, c.len);
  c.len = 0;
  send_to(&p, MSG_PULSE_CONFIG, 0, 17, (const uint8_t[]){0, 0x40, 0x1f, 0, 0, 10, 0}, 7, 0x1122334480ull);
  print_hex("ack", c.out, c.len);
  return 0;
}

static int hexval(int ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

static int decode_lines(void) {
  char line[1024];
  uint8_t b[512];
  while (fgets(line, sizeof line, stdin)) {
    size_t n = 0;
    for (char *q = line; q[0] && q[1] && hexval(q[0]) >= 0 && hexval(q[1]) >= 0 && n < sizeof b; q += 2)
      b[n++] = (uint8_t)(hexval(q[0]) * 16 + hexval(q[1]));
    size_t from = 0;
    if (n > 0 && b[n - 1] == 0) n--; /* the delimiters */
    if (n > 0 && b[0] == 0) from = 1;
    proto_frame_t f;
    int r = proto_frame_decode(b + from, n - from, &f);
    if (r != PROTO_OK) {
      printf("err %d\n", r);
      continue;
    }
    printf("ok %u %u %u ", f.type, f.flags, f.seq);
    for (int i = 0; i < f.len; i++) printf("%02x", f.payload[i]);
    printf("\n");
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "vectors")) return vectors();
  if (argc > 1 && !strcmp(argv[1], "decode")) return decode_lines();
  test_crc();
  test_cobs();
  test_frames();
  test_dispatch();
  test_debounce();
  test_relay_settle();
  printf("%d checks, %d failures\n", checks, failures);
  return failures ? 1 : 0;
}
