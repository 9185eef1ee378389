/*
 * MCU glue for the protocol core: a sketch for an ATmega328P (Arduino Uno/Nano class) at 16 MHz with
 * avr-libc. It is NOT built here; it needs avr-gcc and avr-libc (the "board SDK"). Everything between
 * BOARD-SDK markers touches registers and must be checked against the board's datasheet and wiring:
 *
 *   S0 channel 0  -> PD2 (INT0), S0 channel 1 -> PD3 (INT1), via the meter's S0 optocoupler output with a
 *                    pull-up, so a conducting S0 pulls the pin LOW (level is inverted below)
 *   relay 0 coil  -> PB0 through a driver transistor; auxiliary contact -> PC0 with pull-up (LOW = closed)
 *   UART          -> 115200 8N1 to the host (USB-serial or RS-485 transceiver)
 *
 * Rules the glue keeps: ISRs only timestamp and queue (edges, received bytes); the core runs in the main
 * loop only, so it needs no locking; the watchdog is fed only from the main loop.
 *
 * Build sketch: avr-gcc -std=c99 -Os -mmcu=atmega328p -DF_CPU=16000000UL -o fw.elf mcu/main_mcu.c proto.c
 */
#include <stdint.h>

#include "../proto.h"

/* ---------------- BOARD-SDK: avr-libc headers ---------------- */
#include <avr/eeprom.h>
#include <avr/interrupt.h>
#include <avr/io.h>
#include <avr/wdt.h>
#include <util/atomic.h>
/* ---------------- end BOARD-SDK ---------------- */

#define FW_MAJOR 1
#define FW_MINOR 0
#define FW_PATCH 0
#define DEVICE_ID_EEPROM ((uint32_t *)0)
#define BOOT_COUNT_EEPROM ((uint32_t *)4)
#define PPK_EEPROM ((uint32_t *)8)

/* Power-of-two rings shared between ISRs and the main loop. */
#define RX_RING 128
#define TX_RING 256
#define EDGE_RING 32

static volatile uint8_t rx_buf[RX_RING];
static volatile uint8_t rx_head, rx_tail;
static volatile uint8_t tx_buf[TX_RING];
static volatile uint8_t tx_head, tx_tail;
typedef struct {
  uint32_t t_ms;
  uint8_t channel, level;
} edge_t;
static volatile edge_t edges[EDGE_RING];
static volatile uint8_t edge_head, edge_tail;
static volatile uint32_t millis32;

/* ---------------- BOARD-SDK: interrupts ---------------- */
ISR(TIMER0_COMPA_vect) { millis32++; } /* 1 kHz tick, set up in board_init */

static void queue_edge(uint8_t channel, uint8_t level) {
  uint8_t next = (uint8_t)((edge_head + 1) & (EDGE_RING - 1));
  if (next == edge_tail) return; /* full: a burst far faster than any S0 meter; drop, debounce would */
  edges[edge_head].t_ms = millis32;
  edges[edge_head].channel = channel;
  edges[edge_head].level = level;
  edge_head = next;
}
ISR(INT0_vect) { queue_edge(0, !(PIND & _BV(PD2))); } /* any change; LOW = pulse */
ISR(INT1_vect) { queue_edge(1, !(PIND & _BV(PD3))); }

ISR(USART_RX_vect) {
  uint8_t b = UDR0;
  uint8_t next = (uint8_t)((rx_head + 1) & (RX_RING - 1));
  if (next != rx_tail) {
    rx_buf[rx_head] = b;
    rx_head = next;
  } /* else dropped: the frame fails its CRC and the host retries */
}

ISR(USART_UDRE_vect) {
  if (tx_head == tx_tail) {
    UCSR0B &= (uint8_t)~_BV(UDRIE0);
    return;
  }
  UDR0 = tx_buf[tx_tail];
  tx_tail = (uint8_t)(tx_tail + 1);
}

static void board_init(void) {
  /* UART 115200 8N1, double speed: UBRR = F_CPU / (8 * baud) - 1 = 16 */
  UCSR0A = _BV(U2X0);
  UBRR0 = 16;
  UCSR0B = _BV(RXEN0) | _BV(TXEN0) | _BV(RXCIE0);
  UCSR0C = _BV(UCSZ01) | _BV(UCSZ00);
  /* Timer0 CTC at 1 kHz: 16 MHz / 64 / 250 */
  TCCR0A = _BV(WGM01);
  TCCR0B = _BV(CS01) | _BV(CS00);
  OCR0A = 249;
  TIMSK0 = _BV(OCIE0A);
  /* S0 inputs with pull-ups, interrupt on any change */
  DDRD &= (uint8_t)~(_BV(PD2) | _BV(PD3));
  PORTD |= _BV(PD2) | _BV(PD3);
  EICRA = _BV(ISC00) | _BV(ISC10);
  EIMSK = _BV(INT0) | _BV(INT1);
  /* relay coil output (off), feedback input with pull-up */
  DDRB |= _BV(PB0);
  PORTB &= (uint8_t)~_BV(PB0);
  DDRC &= (uint8_t)~_BV(PC0);
  PORTC |= _BV(PC0);
}

static uint8_t reset_cause_fault(void) {
  uint8_t mcusr = MCUSR;
  MCUSR = 0;
  if (mcusr & _BV(WDRF)) return FAULT_WATCHDOG_RESET;
  if (mcusr & _BV(BORF)) return FAULT_BROWNOUT;
  return 0;
}
/* ---------------- end BOARD-SDK ---------------- */

/* Extends the ISR's 32-bit millisecond counter to the 64-bit uptime the protocol carries. */
static uint64_t uptime_ms(void) {
  static uint32_t last;
  static uint32_t high;
  uint32_t now;
  ATOMIC_BLOCK(ATOMIC_RESTORESTATE) { now = millis32; }
  if (now < last) high++;
  last = now;
  return ((uint64_t)high << 32) | now;
}

static void uart_write(void *ctx, const uint8_t *buf, size_t len) {
  (void)ctx;
  for (size_t i = 0; i < len; i++) {
    uint8_t next = (uint8_t)(tx_head + 1);
    if (next == tx_tail) return; /* full: drop the rest, like the host build; the host retries */
    tx_buf[tx_head] = buf[i];
    tx_head = next;
  }
  UCSR0B |= _BV(UDRIE0); /* BOARD-SDK */
}

static void relay_drive(void *ctx, uint8_t channel, uint8_t on) {
  (void)ctx;
  if (channel != 0) return;
  if (on) PORTB |= _BV(PB0); /* BOARD-SDK */
  else PORTB &= (uint8_t)~_BV(PB0);
}

/* Non-blocking: the core waits cfg.relay_settle_ms after switching before it trusts this. */
static int relay_feedback(void *ctx, uint8_t channel) {
  (void)ctx;
  if (channel != 0) return -1;
  return (PINC & _BV(PC0)) ? 0 : 1; /* BOARD-SDK: LOW = aux contact closed */
}

int main(void) {
  static proto_t p;
  proto_config_t cfg = {0};
  uint8_t fault = reset_cause_fault();
  wdt_enable(WDTO_1S);
  board_init();

  /* An EEPROM boot counter stands in for a random boot id: it changes on every reset, which is all the
   * host needs. Its wear (one write per boot) is far below the EEPROM's endurance. */
  uint32_t boots = eeprom_read_dword(BOOT_COUNT_EEPROM) + 1;
  eeprom_update_dword(BOOT_COUNT_EEPROM, boots);
  uint32_t ppk = eeprom_read_dword(PPK_EEPROM);

  cfg.device_id = eeprom_read_dword(DEVICE_ID_EEPROM);
  cfg.boot_id = boots;
  cfg.fw_major = FW_MAJOR;
  cfg.fw_minor = FW_MINOR;
  cfg.fw_patch = FW_PATCH;
  cfg.s0_channels = 2;
  cfg.relay_channels = 1;
  cfg.pulses_per_kwh = (ppk == 0 || ppk == 0xFFFFFFFFUL) ? 1000 : ppk;
  cfg.debounce_ms = 10;
  cfg.report_interval_ms = 1000;
  cfg.relay_settle_ms = 60; /* typical small contactor: 20-50 ms to close, plus margin */
  cfg.boot_fault = fault;

  proto_io_t io = {uart_write, relay_drive, relay_feedback, 0};
  sei();
  proto_init(&p, &cfg, &io, uptime_ms());

  for (;;) {
    uint64_t now = uptime_ms();
    while (edge_tail != edge_head) {
      edge_t e;
      ATOMIC_BLOCK(ATOMIC_RESTORESTATE) {
        e.t_ms = edges[edge_tail].t_ms;
        e.channel = edges[edge_tail].channel;
        e.level = edges[edge_tail].level;
        edge_tail = (uint8_t)((edge_tail + 1) & (EDGE_RING - 1));
      }
      /* Edge times are 32-bit; rebuild the 64-bit time from the current uptime. */
      uint64_t t = (now & ~(uint64_t)0xFFFFFFFFUL) | e.t_ms;
      if (t > now) t -= (uint64_t)1 << 32;
      proto_s0_edge(&p, e.channel, e.level, t);
    }
    while (rx_tail != rx_head) {
      uint8_t b = rx_buf[rx_tail];
      rx_tail = (uint8_t)((rx_tail + 1) & (RX_RING - 1));
      proto_rx(&p, &b, 1, now);
    }
    proto_tick(&p, now);
    wdt_reset(); /* only while the main loop runs: a hang resets the MCU and the host sees a new boot id */
  }
}
