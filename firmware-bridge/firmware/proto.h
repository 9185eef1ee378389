/*
 * Gridlet firmware-bridge protocol core: COBS framing, CRC-16/CCITT-FALSE, frame encode/decode, command
 * dispatch, S0 pulse counting with debounce, relay state. Platform-independent C99 with no dynamic
 * allocation: the board glue supplies time, bytes, pin edges and the relay driver (see proto_io_t), so the
 * same file runs on the MCU and in the Linux host build. Wire format: docs/FIRMWARE-BRIDGE.md.
 */
#ifndef GRIDLET_PROTO_H
#define GRIDLET_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define PROTO_VERSION 1
#define PROTO_HEADER_LEN 5
#define PROTO_CRC_LEN 2
#define PROTO_MAX_PAYLOAD 64
#define PROTO_MAX_RAW (PROTO_HEADER_LEN + PROTO_MAX_PAYLOAD + PROTO_CRC_LEN)
/* COBS adds one byte per started 254-byte block; a 0x00 delimiter on each side comes on top. */
#define PROTO_MAX_ENCODED (PROTO_MAX_RAW + 1)
#define PROTO_MAX_WIRE (PROTO_MAX_ENCODED + 2)
#define PROTO_MAX_CHANNELS 4
#define PROTO_MAX_NONCE 16

#define PROTO_FLAG_RESPONSE 0x01

enum proto_msg {
  MSG_HELLO = 0x01,
  MSG_PING = 0x02,
  MSG_PONG = 0x03,
  MSG_ACK = 0x04,
  MSG_NACK = 0x05,
  MSG_PULSE_GET = 0x10,
  MSG_PULSE_COUNT = 0x11,
  MSG_PULSE_CONFIG = 0x12,
  MSG_RELAY_SET = 0x20,
  MSG_RELAY_GET = 0x21,
  MSG_RELAY_STATE = 0x22,
  MSG_FAULT = 0x30
};

enum proto_nack {
  NACK_UNKNOWN_TYPE = 1,
  NACK_BAD_LENGTH = 2,
  NACK_BAD_CHANNEL = 3,
  NACK_BAD_VALUE = 4,
  NACK_BAD_VERSION = 5
};

enum proto_fault {
  FAULT_RELAY_FEEDBACK_MISMATCH = 1,
  FAULT_PULSE_BOUNCE = 2,
  FAULT_RX_ERRORS = 3,
  FAULT_WATCHDOG_RESET = 4,
  FAULT_BROWNOUT = 5
};

enum proto_cap { CAP_S0 = 0x01, CAP_RELAY = 0x02, CAP_RELAY_FEEDBACK = 0x04 };

/* Results of proto_frame_decode; negative values are errors. */
enum proto_result {
  PROTO_OK = 0,
  PROTO_E_COBS = -1,
  PROTO_E_TOO_SHORT = -2,
  PROTO_E_LENGTH = -3,
  PROTO_E_CRC = -4,
  PROTO_E_VERSION = -5,
  PROTO_E_FLAGS = -6,
  PROTO_E_TOO_LONG = -7
};

#define PROTO_FEEDBACK_NONE 0xFF
#define PROTO_NO_CHANNEL 0xFF

typedef struct {
  uint8_t version;
  uint8_t type;
  uint8_t flags;
  uint8_t seq;
  uint8_t len;
  uint8_t payload[PROTO_MAX_PAYLOAD];
} proto_frame_t;

uint16_t proto_crc16(const uint8_t *data, size_t n);
/* out needs n + n/254 + 1 bytes; returns the encoded length (no delimiter). */
size_t proto_cobs_encode(const uint8_t *in, size_t n, uint8_t *out);
/* Returns the decoded length, or PROTO_E_COBS if the block is malformed or does not fit in cap. */
int proto_cobs_decode(const uint8_t *in, size_t n, uint8_t *out, size_t cap);
/* Writes 0x00, COBS(header, payload, CRC), 0x00 into out (PROTO_MAX_WIRE bytes); returns the length, or
 * 0 if len exceeds PROTO_MAX_PAYLOAD. The leading delimiter ends any line noise received before the frame,
 * so that noise costs only itself and not the frame after it. */
size_t proto_frame_encode(uint8_t type, uint8_t flags, uint8_t seq, const uint8_t *payload, uint8_t len,
                          uint8_t *out);
/* Decodes one COBS block taken from between delimiters. On PROTO_E_VERSION and PROTO_E_FLAGS the header
 * fields of f are filled in, so that the sender can be told (NACK) under the right sequence number. */
int proto_frame_decode(const uint8_t *block, size_t n, proto_frame_t *f);

typedef struct {
  uint32_t count;          /* pulses since boot; wraps at 2^32, which the host handles */
  uint32_t pulses_per_kwh; /* meter constant, reported so that the host converts with the right one */
  uint16_t debounce_ms;
  uint8_t level;
  uint64_t last_fall_ms;
  uint64_t last_pulse_ms;
  uint32_t rejected; /* edges refused by the debounce: contact bounce or noise */
} proto_s0_t;

typedef struct {
  /* Queue bytes for the UART; must not block for long (drop on overflow: the host retries). */
  void (*write)(void *ctx, const uint8_t *buf, size_t len);
  /* Drive the relay output. */
  void (*relay_drive)(void *ctx, uint8_t channel, uint8_t on);
  /* Read the relay's auxiliary contact now, without waiting: 0 open, 1 closed, or -1 without one. May be
   * NULL. The core waits relay_settle_ms after switching before it trusts the answer. */
  int (*relay_feedback)(void *ctx, uint8_t channel);
  void *ctx;
} proto_io_t;

typedef struct {
  uint32_t device_id;
  /* Differs on every boot (hardware RNG, ADC noise, or an EEPROM boot counter); lets the host see resets. */
  uint32_t boot_id;
  uint8_t fw_major, fw_minor, fw_patch;
  uint8_t s0_channels;
  uint8_t relay_channels;
  uint32_t pulses_per_kwh;
  uint16_t debounce_ms;
  uint32_t report_interval_ms;
  /* How long a contactor takes to settle after switching; RELAY_SET is answered after this time, with the
   * feedback read then, and a feedback that still disagrees later raises FAULT_RELAY_FEEDBACK_MISMATCH. */
  uint16_t relay_settle_ms;
  /* 0, or the proto_fault that explains this boot (read from the MCU's reset-cause register). */
  uint8_t boot_fault;
} proto_config_t;

typedef struct {
  proto_config_t cfg;
  proto_io_t io;
  uint8_t rx[PROTO_MAX_ENCODED];
  uint8_t rx_len;
  uint8_t rx_overflow;
  uint8_t tx_seq;
  uint64_t now_ms;
  uint64_t last_report_ms;
  uint32_t rx_errors;
  uint32_t rx_errors_reported;
  proto_s0_t s0[PROTO_MAX_CHANNELS];
  uint8_t relay[PROTO_MAX_CHANNELS];
  uint64_t relay_changed_ms[PROTO_MAX_CHANNELS];
  uint8_t relay_answer_due[PROTO_MAX_CHANNELS]; /* a RELAY_SET waits for its answer */
  uint8_t relay_answer_seq[PROTO_MAX_CHANNELS];
  uint8_t relay_mismatch_reported[PROTO_MAX_CHANNELS];
} proto_t;

/* Resets all state and announces the boot with an unsolicited HELLO (and FAULT if cfg->boot_fault). */
void proto_init(proto_t *p, const proto_config_t *cfg, const proto_io_t *io, uint64_t now_ms);
/* Feeds received bytes; complete frames are dispatched and answered through io.write. */
void proto_rx(proto_t *p, const uint8_t *buf, size_t n, uint64_t now_ms);
/* Call often (every few ms): sends delayed RELAY_SET answers, the periodic PULSE_COUNT reports and faults. */
void proto_tick(proto_t *p, uint64_t now_ms);
/* An S0 input changed to level (1 = optocoupler conducting) at t_ms; from the pin-change ISR or a poll. */
void proto_s0_edge(proto_t *p, uint8_t channel, uint8_t level, uint64_t t_ms);

#endif
