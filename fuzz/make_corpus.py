#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/corpus/<target>/: valid files from Tests/golden, board/
and samples, and each known kind of corruption, including the crafted reproducers of issue 12
part 1 (Tests/DactylTestSupport/ModelFileEditor.swift, CraftedModels). Run from the repository
root: python3 fuzz/make_corpus.py (it replaces the seed folders)."""
import os
import shutil
import struct
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")


def read(path):
    with open(os.path.join(ROOT, path), "rb") as f:
        return f.read()


class ModelFile:
    """Sections of a .dmdl file, written back with fresh checksums, offsets and alignment
    (as ModelFileEditor does), so an edit reaches the checks behind the checksums."""

    def __init__(self, data):
        self.header = bytearray(data[:64])
        count = struct.unpack_from("<I", data, 24)[0]
        self.sections = []
        for index in range(count):
            entry = 64 + 32 * index
            tag = data[entry:entry + 4]
            offset, size = struct.unpack_from("<QQ", data, entry + 8)
            self.sections.append([tag, bytearray(data[offset:offset + size])])

    def section(self, tag):
        return next(s[1] for s in self.sections if s[0] == tag)

    def set_u32(self, tag, offset, value):
        struct.pack_into("<I", self.section(tag), offset, value)

    def op_field(self, opcode, field, occurrence=0):
        ops = self.section(b"OPS ")
        cursor, found = 4, []
        for _ in range(struct.unpack_from("<I", ops, 0)[0]):
            code, size = struct.unpack_from("<II", ops, cursor)
            if code == opcode:
                found.append(cursor)
            cursor += size
        return found[occurrence] + 8 + 4 * field

    def serialized(self):
        table_end = 64 + 32 * len(self.sections)
        offset = (table_end + 63) // 64 * 64
        table, body = bytearray(), bytearray()
        for tag, data in self.sections:
            table += tag + struct.pack("<IQQII", 0, offset, len(data), zlib.crc32(data), 0)
            start = offset - (table_end + 63) // 64 * 64
            body += bytes(start - len(body)) + data
            offset += (len(data) + 63) // 64 * 64
        header = bytearray(self.header)
        struct.pack_into("<II", header, 24, len(self.sections), zlib.crc32(table))
        out = header + table + bytes((table_end + 63) // 64 * 64 - table_end) + body
        struct.pack_into("<Q", out, 16, len(out))
        return bytes(out)


def model_seeds():
    tiny = read("Tests/golden/tiny.dmdl")
    seeds = {"valid-tiny.dmdl": tiny, "empty": b"", "truncated-header": tiny[:40],
             "truncated-table": tiny[:100], "truncated-body": tiny[:len(tiny) // 2]}
    flipped = bytearray(tiny)
    flipped[-10] ^= 0xFF
    seeds["checksum-mismatch"] = bytes(flipped)
    reserved = bytearray(tiny)
    reserved[40] = 1
    seeds["header-reserved-nonzero"] = bytes(reserved)

    # CraftedModels.conv2dWeightCountOverflow: the second conv2d with 65536 channels and a
    # 65536x65536 kernel, whose weight count overflowed before the bounds check (part 1, #1).
    edit = ModelFile(tiny)
    conv = 1
    tensor_in = struct.unpack_from("<I", edit.section(b"OPS "), edit.op_field(conv, 0, 1))[0]
    tensor_out = struct.unpack_from("<I", edit.section(b"OPS "), edit.op_field(conv, 1, 1))[0]
    edit.set_u32(b"TENS", 4 + 16 * tensor_in, 65536)
    edit.set_u32(b"TENS", 4 + 16 * tensor_out, 65536)
    edit.set_u32(b"OPS ", edit.op_field(conv, 3, 1), 65536)
    edit.set_u32(b"OPS ", edit.op_field(conv, 4, 1), 65536)
    seeds["crafted-conv2d-weight-overflow.dmdl"] = edit.serialized()
    # CraftedModels.newlineInAlphabet (#8).
    edit = ModelFile(tiny)
    edit.section(b"ALPH")[5] = 0x0A
    seeds["crafted-newline-in-alphabet.dmdl"] = edit.serialized()
    # Reserved META and TENS fields non-zero (#8), with valid checksums.
    edit = ModelFile(tiny)
    edit.set_u32(b"META", 100, 7)
    seeds["crafted-meta-reserved.dmdl"] = edit.serialized()
    edit = ModelFile(tiny)
    edit.set_u32(b"TENS", 4 + 16 + 12, 1)
    seeds["crafted-tensor-reserved.dmdl"] = edit.serialized()
    # The first tensor (the input) at the largest and an impossible size (#2).
    for name, size in [("crafted-input-8192", 8192), ("crafted-input-huge", 0x7FFFFFFF)]:
        edit = ModelFile(tiny)
        edit.set_u32(b"TENS", 4, size)
        edit.set_u32(b"TENS", 8, size)
        seeds[name + ".dmdl"] = edit.serialized()
    # Every field of the first op at its extreme (ModelLoaderTests.testExtremeFieldValuesNeverTrap).
    for field in range(4):
        edit = ModelFile(tiny)
        edit.set_u32(b"OPS ", edit.op_field(conv, field), 0xFFFFFFFF)
        seeds[f"crafted-conv-field{field}-max.dmdl"] = edit.serialized()
    return seeds


def first_frames(clip, count):
    """The stream header and the first `count` frames of a clip with plain FRAME markers."""
    header = clip[:clip.index(b"\n") + 1]
    fields = dict((word[:1], word[1:]) for word in header.split()[1:])
    width, height = int(fields[b"W"]), int(fields[b"H"])
    chroma = fields.get(b"C", b"420")
    plane = width * height
    frame = plane * 3 if chroma.startswith(b"444") else plane + 2 * ((width + 1) // 2) * ((height + 1) // 2)
    return clip[:len(header) + count * (6 + frame)]


def y4m_seeds():
    c420 = read("Tests/golden/clip420.y4m")
    c444 = read("Tests/golden/clip444.y4m")
    one_frame_420 = first_frames(c420, 1)
    frame = bytes(range(256)) * (4 * 4 * 3 // 256 + 1)
    return {
        "valid-420-one-frame.y4m": one_frame_420,
        "valid-444-two-frames.y4m": first_frames(c444, 2),
        "valid-4x4-frame-params.y4m": b"YUV4MPEG2 W4 H4 F30:1 Ip A1:1 C444 XYSCSS=444\nFRAME Ixyz\n" + frame[:48],
        "valid-mono-range.y4m": b"YUV4MPEG2 W2 H2 C420mpeg2 XCOLORRANGE=FULL\nFRAME\n" + bytes(6),
        "not-y4m": b"RIFF\x00\x00\x00\x00WAVEfmt ",
        "unterminated-header": b"YUV4MPEG2 W64 H48",
        "missing-height": b"YUV4MPEG2 W64\nFRAME\n" + bytes(16),
        "bad-values": b"YUV4MPEG2 W-1 H99999999999999999999 F0:0\nFRAME\n",
        "interlaced": b"YUV4MPEG2 W2 H2 It C420\nFRAME\n" + bytes(6),
        "no-frames": b"YUV4MPEG2 W2 H2 C420\n",
        "truncated-frame": one_frame_420[:-100],
        "bad-marker": b"YUV4MPEG2 W2 H2 C420\nFRAMX\n" + bytes(6),
        "long-marker": b"YUV4MPEG2 W2 H2 C420\nFRAME " + b"X" * 300 + b"\n" + bytes(6),
        "huge-size": b"YUV4MPEG2 W16384 H16384 C444\nFRAME\n" + bytes(64),
    }


def profile_seeds():
    seeds = {f"valid-{name}": read(f"board/{name}") for name in sorted(os.listdir(os.path.join(ROOT, "board")))
             if name.endswith(".conf")}
    seeds.update({
        "no-equals": b"camera.size 640x480\n",
        "no-key": b" = 3\n",
        "unknown-key": b"camera.zoom = 2\n",
        "bad-values": b"camera.size = 0x99999999999999999999\nserial.baud = 1234\ncrop = 1,2,3\nthreads = +4\n",
        "nul-byte": b"threads = 2\x00\n",
        "crlf-comments": b"# comment\r\nsinks = stdout,serial # trailing\r\n\r\nsegmenter.still-seconds = 0.4\r\n",
    })
    return seeds


def lexicon_seeds():
    return {
        "valid-golden.txt": read("Tests/golden/vocabulary/lexicon.txt"),
        "valid-apostrophes.txt": b"don't\nr&b\nmr.\n@home\nA\n",
        "not-in-alphabet.txt": "# words\nhello\nw\u00f6rld\n".encode(),
        "space-inside.txt": b"hello\n\nnew york\n",
        "no-words.txt": b"# nothing\n\n",
        "binary": bytes(range(256)),
    }


def lm_seeds():
    lm = read("Tests/golden/vocabulary/lm.dclm")
    bad_magic = b"X" + lm[1:]
    bad_order = bytearray(lm)
    bad_order[8] = 9
    huge_counts = bytearray(lm)
    struct.pack_into("<I", huge_counts, len(lm) // 2 // 4 * 4, 0xFFFFFFFF)
    return {"valid-golden.dclm": lm, "truncated-by-2": lm[:-2], "truncated-header": lm[:10], "bad-magic": bad_magic,
            "bad-order": bytes(bad_order), "bad-version": lm[:4] + b"\x02" + lm[5:], "field-max": bytes(huge_counts)}


def args_seeds():
    def argv(*words):
        return b"\x00".join(w.encode() for w in words)
    return {
        "decode-beam": argv("clip.y4m", "--beam", "8", "--format=jsonl", "--crop", "80,0,480,480"),
        "decode-vocabulary": argv("clip.y4m", "--beam=16", "--lexicon", "l.txt", "--lm", "m.dclm",
                                  "--lm-weight", "0.5", "--insertion-bonus=-1.25"),
        "run-profile": argv("--board", "pi5", "--sink", "stdout,serial", "--baud", "9600", "--camera-size",
                            "320x240", "--threads=2", "--fast", "--loop", "--max-frames", "100"),
        "inspect-input": argv("m.dmdl", "--input", "8192x8192", "--window", "100000", "--planner", "linear"),
        "signs": argv("--beam", "+8", "--crop", "+1,2,3,4", "--lm-weight", "-0", "--window", "-0"),
        "unknown-and-missing": argv("--nope", "x", "--beam"),
        "flag-with-value": argv("--fast=1"),
        "empty-words": argv("", "-", "--", "=", "--beam="),
        "big-numbers": argv("--beam", "999999999999999999", "--max-frames", "9223372036854775807",
                            "--insertion-bonus", "1" * 60 + ".5"),
    }


def http_seeds():
    """Request heads for the preview page's server: what browsers and curl send, and each
    refusal of HTTPRequestTests (status in the name)."""
    chrome = (b"GET /stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nConnection: keep-alive\r\n"
              b"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36\r\n"
              b"Accept: image/avif,image/webp,image/apng,image/*,*/*;q=0.8\r\nReferer: http://127.0.0.1:8080/\r\n"
              b"Accept-Encoding: gzip, deflate, br\r\nAccept-Language: en-GB,en;q=0.9\r\n\r\n")
    return {
        "valid-chrome-stream": chrome,
        "valid-curl-events": b"GET /events HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n",
        "valid-head-http10-lf": b"HEAD / HTTP/1.0\n\n",
        "valid-absolute-query": b"\r\nGET http://box:80/index.html?a=1&b HTTP/1.1\r\nHost: box\r\nContent-Length: 0\r\n\r\n",
        "valid-pipelined": b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /events HTTP/1.1\r\nHost: a\r\n\r\n",
        "incomplete": b"GET /snapshot.jpg HTTP/1.1\r\nHost: a\r\nAcc",
        "405-post-with-body": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
        "505-http2": b"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
        "400-no-host": b"GET / HTTP/1.1\r\n\r\n",
        "400-two-hosts": b"GET / HTTP/1.1\r\nHost: a\r\nHOST: b\r\n\r\n",
        "400-folded": b"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
        "400-bare-cr": b"GET / HTTP/1.1\rHost: a\r\n\r\n",
        "400-nul": b"GET /\x00 HTTP/1.1\r\nHost: a\r\n\r\n",
        "400-target": b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n",
        "413-chunked": b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "414-long-target": b"GET /" + b"a" * 1100 + b" HTTP/1.1\r\nHost: a\r\n\r\n",
        "431-many-fields": b"GET / HTTP/1.1\r\nHost: a\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(60)) + b"\r\n",
        "431-long-head": b"GET / HTTP/1.1\r\nHost: a\r\nCookie: " + b"c" * 4200,
    }


def main():
    for target, seeds in [("model", model_seeds()), ("y4m", y4m_seeds()), ("profile", profile_seeds()),
                          ("lexicon", lexicon_seeds()), ("lm", lm_seeds()), ("args", args_seeds()), ("http", http_seeds())]:
        folder = os.path.join(CORPUS, target)
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
        for name, data in seeds.items():
            with open(os.path.join(folder, name), "wb") as f:
                f.write(data)
        print(f"{target}: {len(seeds)} seeds, {sum(len(d) for d in seeds.values())} bytes")


if __name__ == "__main__":
    main()
