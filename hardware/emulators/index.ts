/** The emulators' programmatic API, for tests and benchmarks elsewhere (see docs/METERS.md). */
export { type Fault, FaultQueue } from "./faults.js";
export { PtyPair } from "./pty.js";
export { readImage } from "./registers.js";
export { type EmulatedDevice, type RtuEmulatorOptions, RtuMeterEmulator } from "./rtu.js";
export { constantPower, fixedState, fromLog, type MeterState, type StateSource } from "./state.js";
export { p1Telegram, StreamEmitter, type StreamEmitterOptions } from "./stream.js";
export { TcpMeterEmulator } from "./tcp.js";
