/* Protocol core; see proto.h and docs/FIRMWARE-BRIDGE.md. */
#include "proto.h"

#include <string.h>

uint16_t proto_crc16(const uint8_t *data, size_t n) {
  /* Bit-wise on purpose: 512 bytes of table are a lot of flash on a small AVR, and frames are short. */
  uint16_t crc = 0xFFFF;
  for (size_t i = 0; i < n; i++) {
    crc ^= (uint16_t)data[i] << 8;
    for (int k = 0; k < 8; k++) crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
  }
  return crc;
}

size_t proto_cobs_encode(const uint8_t *in, size_t n, uint8_t *out) {
  size_t code_at = 0, o = 1;
  uint8_t code = 1;
  for (size_t i = 0; i < n; i++) {
    if (in[i] == 0) {
      out[code_at] = code;
      code_at = o++;
      code = 1;
      continue;
    }
    out[o++] = in[i];
    code++;
    /* Only open a new block if input follows, so a final 254-byte run has no empty block after it. */
    if (code == 0xFF && i + 1 < n) {
      out[code_at] = code;
      code_at = o++;
      code = 1;
    }
  }
  out[code_at] = code;
  return o;
}

int proto_cobs_decode(const uint8_t *in, size_t n, uint8_t *out, size_t cap) {
  size_t i = 0, o = 0;
  while (i < n) {
    uint8_t code = in[i];
    if (code == 0 || i + code > n) return PROTO_E_COBS;
    for (uint8_t k = 1; k < code; k++) {
      if (o >= cap || in[i + k] == 0) return PROTO_E_COBS;
      out[o++] = in[i + k];
    }
    i += code;
    if (code < 0xFF && i < n) {
      if (o >= cap) return PROTO_E_COBS;
      out[o++] = 0;
    }
  }
  return (int)o;
}

size_t proto_frame_encode(uint8_t type, uint8_t flags, uint8_t seq, const uint8_t *payload, uint8_t len,
                          uint8_t *out) {
  uint8_t raw[PROTO_MAX_RAW];
  if (len > PROTO_MAX_PAYLOAD) return 0;
  raw[0] = PROTO_VERSION;
  raw[1] = type;
  raw[2] = flags;
  raw[3] = seq;
  raw[4] = len;
  if (len > 0) memcpy(raw + PROTO_HEADER_LEN, payload, len);
  uint16_t crc = proto_crc16(raw, PROTO_HEADER_LEN + (size_t)len);
  raw[PROTO_HEADER_LEN + len] = (uint8_t)(crc & 0xFF);
  raw[PROTO_HEADER_LEN + len + 1] = (uint8_t)(crc >> 8);
  out[0] = 0;
  size_t n = proto_cobs_encode(raw, PROTO_HEADER_LEN + (size_t)len + PROTO_CRC_LEN, out + 1);
  out[n + 1] = 0;
  return n + 2;
}

int proto_frame_decode(const uint8_t *block, size_t n, proto_frame_t *f) {
  uint8_t raw[PROTO_MAX_RAW];
  if (n > PROTO_MAX_ENCODED) return PROTO_E_TOO_LONG;
  int m = proto_cobs_decode(block, n, raw, sizeof raw);
  if (m < 0) return m;
  if (m < PROTO_HEADER_LEN + PROTO_CRC_LEN) return PROTO_E_TOO_SHORT;
  uint8_t len = raw[4];
  if (len > PROTO_MAX_PAYLOAD || m != PROTO_HEADER_LEN + len + PROTO_CRC_LEN) return PROTO_E_LENGTH;
  uint16_t got = (uint16_t)(raw[PROTO_HEADER_LEN + len] | (raw[PROTO_HEADER_LEN + len + 1] << 8));
  if (proto_crc16(raw, PROTO_HEADER_LEN + (size_t)len) != got) return PROTO_E_CRC;
  f->version = raw[0];
  f->type = raw[1];
  f->flags = raw[2];
  f->seq = raw[3];
  f->len = len;
  memcpy(f->payload, raw + PROTO_HEADER_LEN, len);
  if (f->version != PROTO_VERSION) return PROTO_E_VERSION;
  if (f->flags & (uint8_t)~PROTO_FLAG_RESPONSE) return PROTO_E_FLAGS;
  return PROTO_OK;
}

/* ---- little-endian field helpers ---- */

static uint8_t *put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
  return p + 4;
}
static uint8_t *put64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
  return p + 8;
}
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* ---- sending ---- */

static void send(proto_t *p, uint8_t type, uint8_t flags, uint8_t seq, const uint8_t *payload, uint8_t len) {
  uint8_t wire[PROTO_MAX_WIRE];
  size_t n = proto_frame_encode(type, flags, seq, payload, len, wire);
  if (n > 0) p->io.write(p->io.ctx, wire, n);
}

/* Unsolicited messages carry the firmware's own sequence number; answers echo the request's. */
static void send_own(proto_t *p, uint8_t type, const uint8_t *payload, uint8_t len) {
  send(p, type, 0, p->tx_seq++, payload, len);
}

static void send_nack(proto_t *p, uint8_t seq, uint8_t type, uint8_t code) {
  uint8_t b[2] = {type, code};
  send(p, MSG_NACK, PROTO_FLAG_RESPONSE, seq, b, 2);
}

static void send_hello(proto_t *p, uint8_t flags, uint8_t seq) {
  uint8_t b[22], *q = b;
  uint8_t caps = 0;
  if (p->cfg.s0_channels) caps |= CAP_S0;
  if (p->cfg.relay_channels) caps |= CAP_RELAY;
  if (p->cfg.relay_channels && p->io.relay_feedback && p->io.relay_feedback(p->io.ctx, 0) >= 0)
    caps |= CAP_RELAY_FEEDBACK;
  *q++ = p->cfg.fw_major;
  *q++ = p->cfg.fw_minor;
  *q++ = p->cfg.fw_patch;
  *q++ = caps;
  *q++ = p->cfg.s0_channels;
  *q++ = p->cfg.relay_channels;
  q = put32(q, p->cfg.device_id);
  q = put32(q, p->cfg.boot_id);
  put64(q, p->now_ms);
  send(p, MSG_HELLO, flags, seq, b, sizeof b);
}

static void send_pulse_count(proto_t *p, uint8_t flags, uint8_t seq, uint8_t ch) {
  const proto_s0_t *s = &p->s0[ch];
  uint8_t b[29], *q = b;
  *q++ = ch;
  q = put32(q, s->count);
  q = put32(q, s->pulses_per_kwh);
  q = put32(q, p->cfg.boot_id);
  q = put64(q, p->now_ms);
  put64(q, s->last_pulse_ms);
  send(p, MSG_PULSE_COUNT, flags, seq, b, sizeof b);
}

static void send_relay_state(proto_t *p, uint8_t flags, uint8_t seq, uint8_t ch) {
  int fb = p->io.relay_feedback ? p->io.relay_feedback(p->io.ctx, ch) : -1;
  uint8_t b[3] = {ch, p->relay[ch], fb < 0 ? PROTO_FEEDBACK_NONE : (uint8_t)(fb ? 1 : 0)};
  send(p, MSG_RELAY_STATE, flags, seq, b, 3);
}

static void send_fault(proto_t *p, uint8_t code, uint8_t ch, uint32_t detail) {
  uint8_t b[6] = {code, ch};
  put32(b + 2, detail);
  send_own(p, MSG_FAULT, b, 6);
}

/* ---- relay settle time ---- */

static int relay_settled(const proto_t *p, uint8_t ch) {
  return p->now_ms - p->relay_changed_ms[ch] >= p->cfg.relay_settle_ms;
}

/* Answers RELAY_SETs whose contactor has settled, and reports a feedback contact that disagrees. */
static void relay_service(proto_t *p) {
  for (uint8_t ch = 0; ch < p->cfg.relay_channels; ch++) {
    if (!relay_settled(p, ch)) continue;
    if (p->relay_answer_due[ch]) {
      p->relay_answer_due[ch] = 0;
      send_relay_state(p, PROTO_FLAG_RESPONSE, p->relay_answer_seq[ch], ch);
    }
    int fb = p->io.relay_feedback ? p->io.relay_feedback(p->io.ctx, ch) : -1;
    if (fb < 0) continue;
    if ((uint8_t)fb != p->relay[ch] && !p->relay_mismatch_reported[ch]) {
      p->relay_mismatch_reported[ch] = 1;
      send_fault(p, FAULT_RELAY_FEEDBACK_MISMATCH, ch, p->relay[ch]);
    } else if ((uint8_t)fb == p->relay[ch]) {
      p->relay_mismatch_reported[ch] = 0;
    }
  }
}

/* ---- dispatch ---- */

/* Answers one request; returns 0 when answered, or the NACK code to refuse it with. */
static uint8_t handle(proto_t *p, const proto_frame_t *f) {
  const uint8_t R = PROTO_FLAG_RESPONSE;
  switch (f->type) {
    case MSG_HELLO:
      if (f->len != 0) return NACK_BAD_LENGTH;
      send_hello(p, R, f->seq);
      return 0;
    case MSG_PING: {
      uint8_t b[8 + PROTO_MAX_NONCE];
      if (f->len > PROTO_MAX_NONCE) return NACK_BAD_LENGTH;
      put64(b, p->now_ms);
      memcpy(b + 8, f->payload, f->len);
      send(p, MSG_PONG, R, f->seq, b, (uint8_t)(8 + f->len));
      return 0;
    }
    case MSG_PULSE_GET:
      if (f->len != 1) return NACK_BAD_LENGTH;
      if (f->payload[0] >= p->cfg.s0_channels) return NACK_BAD_CHANNEL;
      send_pulse_count(p, R, f->seq, f->payload[0]);
      return 0;
    case MSG_PULSE_CONFIG: {
      if (f->len != 7) return NACK_BAD_LENGTH;
      uint8_t ch = f->payload[0];
      uint32_t ppk = get32(f->payload + 1);
      uint16_t deb = get16(f->payload + 5);
      uint8_t b[1] = {MSG_PULSE_CONFIG};
      if (ch >= p->cfg.s0_channels) return NACK_BAD_CHANNEL;
      /* IEC 62053-31 S0 pulses last at least 30 ms, so a longer debounce would eat real pulses. */
      if (ppk == 0 || ppk > 1000000UL || deb == 0 || deb > 30) return NACK_BAD_VALUE;
      p->s0[ch].pulses_per_kwh = ppk;
      p->s0[ch].debounce_ms = deb;
      send(p, MSG_ACK, R, f->seq, b, 1);
      return 0;
    }
    case MSG_RELAY_SET: {
      if (f->len != 2) return NACK_BAD_LENGTH;
      uint8_t ch = f->payload[0], on = f->payload[1];
      if (ch >= p->cfg.relay_channels) return NACK_BAD_CHANNEL;
      if (on > 1) return NACK_BAD_VALUE;
      if (p->relay[ch] != on) {
        p->relay[ch] = on;
        p->relay_changed_ms[ch] = p->now_ms;
        p->relay_mismatch_reported[ch] = 0;
      }
      p->io.relay_drive(p->io.ctx, ch, on);
      /* A repeated RELAY_SET (the host's retry) moves the answer to the newest sequence number. */
      p->relay_answer_due[ch] = 1;
      p->relay_answer_seq[ch] = f->seq;
      relay_service(p);
      return 0;
    }
    case MSG_RELAY_GET:
      if (f->len != 1) return NACK_BAD_LENGTH;
      if (f->payload[0] >= p->cfg.relay_channels) return NACK_BAD_CHANNEL;
      send_relay_state(p, R, f->seq, f->payload[0]);
      return 0;
    default:
      return NACK_UNKNOWN_TYPE;
  }
}

static void dispatch(proto_t *p, const proto_frame_t *f) {
  /* The host never answers the firmware, so a response here is an echo or a crossed line: ignore it. */
  if (f->flags & PROTO_FLAG_RESPONSE) return;
  uint8_t nack = handle(p, f);
  if (nack) send_nack(p, f->seq, f->type, nack);
}

static void frame_done(proto_t *p) {
  proto_frame_t f;
  int r = proto_frame_decode(p->rx, p->rx_len, &f);
  if (r == PROTO_OK) {
    dispatch(p, &f);
  } else if (r == PROTO_E_VERSION || r == PROTO_E_FLAGS) {
    /* The CRC was good, so the header can be trusted enough to say why the frame was refused. */
    p->rx_errors++;
    if (!(f.flags & PROTO_FLAG_RESPONSE))
      send_nack(p, f.seq, f.type, r == PROTO_E_VERSION ? NACK_BAD_VERSION : NACK_BAD_VALUE);
  } else {
    /* Noise: nothing in it can be trusted, not even the sequence number; the host's retry recovers. */
    p->rx_errors++;
  }
}

void proto_rx(proto_t *p, const uint8_t *buf, size_t n, uint64_t now_ms) {
  p->now_ms = now_ms;
  for (size_t i = 0; i < n; i++) {
    uint8_t b = buf[i];
    if (b != 0) {
      if (p->rx_len < sizeof p->rx) p->rx[p->rx_len++] = b;
      else p->rx_overflow = 1;
      continue;
    }
    if (p->rx_overflow) p->rx_errors++;
    else if (p->rx_len > 0) frame_done(p);
    p->rx_len = 0;
    p->rx_overflow = 0;
  }
}

void proto_tick(proto_t *p, uint64_t now_ms) {
  p->now_ms = now_ms;
  relay_service(p);
  if (now_ms - p->last_report_ms < p->cfg.report_interval_ms) return;
  p->last_report_ms = now_ms;
  for (uint8_t ch = 0; ch < p->cfg.s0_channels; ch++) send_pulse_count(p, 0, p->tx_seq++, ch);
  if (p->rx_errors != p->rx_errors_reported) {
    p->rx_errors_reported = p->rx_errors;
    send_fault(p, FAULT_RX_ERRORS, PROTO_NO_CHANNEL, p->rx_errors);
  }
}

void proto_s0_edge(proto_t *p, uint8_t channel, uint8_t level, uint64_t t_ms) {
  if (channel >= p->cfg.s0_channels) return;
  proto_s0_t *s = &p->s0[channel];
  level = level ? 1 : 0;
  if (level == s->level) return;
  s->level = level;
  if (!level) {
    s->last_fall_ms = t_ms;
    return;
  }
  /* A rising edge counts only after the line was low for the debounce time: bounce on either edge of a
   * pulse shows up as a short low, and is refused. */
  if (t_ms - s->last_fall_ms >= s->debounce_ms) {
    s->count++;
    s->last_pulse_ms = t_ms;
  } else {
    s->rejected++;
  }
}

void proto_init(proto_t *p, const proto_config_t *cfg, const proto_io_t *io, uint64_t now_ms) {
  memset(p, 0, sizeof *p);
  p->cfg = *cfg;
  if (p->cfg.s0_channels > PROTO_MAX_CHANNELS) p->cfg.s0_channels = PROTO_MAX_CHANNELS;
  if (p->cfg.relay_channels > PROTO_MAX_CHANNELS) p->cfg.relay_channels = PROTO_MAX_CHANNELS;
  p->io = *io;
  p->now_ms = now_ms;
  p->last_report_ms = now_ms;
  for (uint8_t ch = 0; ch < PROTO_MAX_CHANNELS; ch++) {
    p->s0[ch].pulses_per_kwh = cfg->pulses_per_kwh ? cfg->pulses_per_kwh : 1000;
    p->s0[ch].debounce_ms = cfg->debounce_ms ? cfg->debounce_ms : 10;
    p->s0[ch].last_fall_ms = now_ms;
  }
  /* Relays start open: after a reset nobody has authorised a seller's supply to be connected. */
  for (uint8_t ch = 0; ch < p->cfg.relay_channels; ch++) {
    p->io.relay_drive(p->io.ctx, ch, 0);
    p->relay_changed_ms[ch] = now_ms;
  }
  send_hello(p, 0, p->tx_seq++);
  if (cfg->boot_fault) send_fault(p, cfg->boot_fault, PROTO_NO_CHANNEL, 0);
}
