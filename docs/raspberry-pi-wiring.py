# Draws docs/raspberry-pi-wiring.svg: the 40-pin header's first 20 pins, the LEDs and the button
# of the board profiles (GPIO17, GPIO27, GPIO22), and the UART pins. Run: python3 docs/raspberry-pi-wiring.py
import os

pins = {1: "3V3", 2: "5V", 3: "GPIO2", 4: "5V", 5: "GPIO3", 6: "GND", 7: "GPIO4", 8: "GPIO14 TXD",
        9: "GND", 10: "GPIO15 RXD", 11: "GPIO17", 12: "GPIO18", 13: "GPIO27", 14: "GND", 15: "GPIO22",
        16: "GPIO23", 17: "3V3", 18: "GPIO24", 19: "GPIO10", 20: "GND"}
used = {9: "#333", 11: "#1a7f37", 13: "#b58900", 15: "#0969da", 8: "#8250df", 10: "#8250df", 6: "#333"}
W, H = 900, 480
top, step = 64, 32
box_left, box_right = 350, 640
odd_x, even_x = 490, 520
y = lambda pin: top + ((pin - 1) // 2) * step
out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="13">',
       f'<rect width="{W}" height="{H}" fill="white"/>',
       '<text x="20" y="28" font-size="16" font-weight="bold">Dactyl on a Raspberry Pi: status LED, word LED and button (pi5/pi4/zero2w profiles)</text>',
       f'<rect x="{box_left}" y="{top - 18}" width="{box_right - box_left}" height="{10 * step + 8}" rx="6" fill="#f6f8fa" stroke="#444"/>',
       f'<text x="{(odd_x + even_x) // 2}" y="{top + 10 * step + 28}" text-anchor="middle" fill="#555">40-pin header, pins 1-20 (pin 1: the square pad, at the SD card end)</text>']
for pin, name in pins.items():
    py = y(pin)
    x = odd_x if pin % 2 else even_x
    colour = used.get(pin)
    if colour and pin % 2:
        out.append(f'<rect x="{box_left + 2}" y="{py - 12}" width="{odd_x - box_left + 8}" height="24" fill="{colour}" fill-opacity="0.12"/>')
    if colour and not pin % 2:
        out.append(f'<rect x="{even_x - 10}" y="{py - 12}" width="{box_right - even_x + 8}" height="24" fill="{colour}" fill-opacity="0.12"/>')
    out.append(f'<circle cx="{x}" cy="{py}" r="7" fill="{colour or "#bbb"}" stroke="#333"/>')
    if pin % 2:
        out.append(f'<text x="{x - 14}" y="{py + 4}" text-anchor="end">{name} <tspan fill="#777">({pin})</tspan></text>')
    else:
        out.append(f'<text x="{x + 14}" y="{py + 4}"><tspan fill="#777">({pin})</tspan> {name}</text>')

bus_x = 60
def wire(x1, y1, x2, y2, colour="#333"):
    out.append(f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="{colour}" stroke-width="2.5"/>')
def resistor(x, yy, label):  # a 40 px IEC resistor centred at x
    out.append(f'<rect x="{x - 20}" y="{yy - 7}" width="40" height="14" fill="white" stroke="#333" stroke-width="2"/>')
    out.append(f'<text x="{x}" y="{yy - 11}" text-anchor="middle" font-size="11">{label}</text>')
def led(x, yy, colour, label):  # current flows right to left: anode on the right
    out.append(f'<polygon points="{x + 10},{yy - 9} {x + 10},{yy + 9} {x - 8},{yy}" fill="{colour}" stroke="#333" stroke-width="1.5"/>')
    out.append(f'<line x1="{x - 9}" y1="{yy - 9}" x2="{x - 9}" y2="{yy + 9}" stroke="#333" stroke-width="2.5"/>')
    out.append(f'<text x="{x}" y="{yy - 13}" text-anchor="middle" font-size="11">{label}</text>')
def button(x, yy, label):
    out.append(f'<circle cx="{x - 14}" cy="{yy}" r="3" fill="white" stroke="#333" stroke-width="2"/>')
    out.append(f'<circle cx="{x + 14}" cy="{yy}" r="3" fill="white" stroke="#333" stroke-width="2"/>')
    out.append(f'<line x1="{x - 16}" y1="{yy - 9}" x2="{x + 16}" y2="{yy - 9}" stroke="#333" stroke-width="2.5"/>')
    out.append(f'<line x1="{x}" y1="{yy - 9}" x2="{x}" y2="{yy - 16}" stroke="#333" stroke-width="2.5"/>')
    out.append(f'<text x="{x}" y="{yy + 20}" text-anchor="middle" font-size="11">{label}</text>')

# Ground bus from pin 9 down past pin 15's row.
wire(bus_x, y(9), box_left, y(9))
wire(bus_x, y(9), bus_x, y(15) + 0)
out.append(f'<text x="{bus_x + 8}" y="{y(9) - 6}" font-size="11">GND</text>')
for pin, colour, what in [(11, "#2ea043", "status LED"), (13, "#e3b341", "word LED")]:
    py = y(pin)
    wire(bus_x, py, 150, py, used[pin]); wire(170, py, 250, py, used[pin]); wire(290, py, box_left, py, used[pin])
    led(160, py, colour, what)
    resistor(270, py, "330 Ω")
py = y(15)
wire(bus_x, py, 196, py, used[15]); wire(224, py, box_left, py, used[15])
button(210, py, "button (to GND; pull-up inside)")
for pin, text in [(8, "TXD to the device's RX"), (10, "RXD from the device's TX"), (6, "GND to the device's GND")]:
    out.append(f'<text x="{box_right + 10}" y="{y(pin) + 4}" fill="{used[pin]}">← {text}</text>')
out.append(f'<text x="{box_right + 10}" y="{y(6) - 22}" font-size="11" fill="#555">serial: 3.3 V levels only</text>')
notes = ["LEDs: long leg (anode) towards the resistor and the GPIO pin, short leg to GND. 330 Ω keeps each LED under 5 mA at 3.3 V.",
         "Button: between GPIO22 and GND; dactyl turns on the pin's pull-up. A short press clears the word, a 1 s press repeats the last word.",
         "Profile lines: gpio.status-led = GPIO17, gpio.word-led = GPIO27, gpio.button = GPIO22, sinks = stdout,gpio (/etc/dactyl/box.conf)."]
for i, note in enumerate(notes):
    out.append(f'<text x="20" y="{H - 54 + i * 18}" font-size="12">{note}</text>')
out.append('</svg>')
open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "raspberry-pi-wiring.svg"), "w").write("\n".join(out) + "\n")
