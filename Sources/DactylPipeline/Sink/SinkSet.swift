/// The sinks of one run, each a concrete value (Embedded Swift has no existentials), told every
/// event in a fixed order: stdout, serial, GPIO, keyboard, preview. A sink that is nil is not in use.
public struct SinkSet: BoxSink {
    public var stdout: StdoutSink?
    public var serial: SerialSink?
    public var gpio: GPIOSink?
    public var keyboard: KeyboardSink?
    /// The setup preview page (`--preview`): it also takes every frame.
    public var preview: PreviewSink?

    public init(stdout: StdoutSink? = nil, serial: SerialSink? = nil, gpio: GPIOSink? = nil, keyboard: KeyboardSink? = nil,
                preview: PreviewSink? = nil) {
        self.stdout = stdout
        self.serial = serial
        self.gpio = gpio
        self.keyboard = keyboard
        self.preview = preview
    }

    public mutating func partial(_ word: WordView, now: UInt64) {
        stdout?.partial(word, now: now)
        serial?.partial(word, now: now)
        gpio?.partial(word, now: now)
        keyboard?.partial(word, now: now)
        preview?.partial(word, now: now)
    }

    public mutating func commit(_ word: WordView, now: UInt64) {
        stdout?.commit(word, now: now)
        serial?.commit(word, now: now)
        gpio?.commit(word, now: now)
        keyboard?.commit(word, now: now)
        preview?.commit(word, now: now)
    }

    public mutating func status(_ status: BoxStatus, message: UnsafeBufferPointer<UInt8>, now: UInt64) {
        stdout?.status(status, message: message, now: now)
        serial?.status(status, message: message, now: now)
        gpio?.status(status, message: message, now: now)
        keyboard?.status(status, message: message, now: now)
        preview?.status(status, message: message, now: now)
    }

    /// Every sink is serviced; the first request (the GPIO button) is returned.
    public mutating func service(now: UInt64) -> SinkRequest? {
        let fromStdout = stdout?.service(now: now)
        let fromSerial = serial?.service(now: now)
        let fromGPIO = gpio?.service(now: now)
        let fromKeyboard = keyboard?.service(now: now)
        return fromGPIO ?? fromSerial ?? fromKeyboard ?? fromStdout
    }

    public mutating func flush(deadline: UInt64) {
        stdout?.flush(deadline: deadline)
        serial?.flush(deadline: deadline)
        gpio?.flush(deadline: deadline)
        keyboard?.flush(deadline: deadline)
    }

    public mutating func frame(_ frame: LiveFrame, now: UInt64) {
        preview?.frame(frame, now: now)
    }

    /// Releases the devices: LEDs off and lines released, keys released, ports closed.
    public mutating func close() {
        serial?.close()
        gpio?.close()
        keyboard?.close()
    }
}
