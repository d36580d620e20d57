// The virtual Raspberry Pi's camera scene: plays a Y4M clip into vivid's video output node, with
// vivid set up so that its capture node returns those frames byte for byte (loop mode), and
// checks recordings of the capture node against what it fed.
//
//   feeder play CAPTURE OUTPUT CLIP.y4m X Y [--loops N] [--ready FILE] [--start FILE] [--done FILE] [--hold N]
//       Sets vivid up (HDMI input and output, both 640x480p60, 'OSD Text Mode' None, 'Loop
//       Video' 1), then writes the clip as YUYV 640x480 with its frames placed at (X, Y) on a grey
//       background, each clip frame held for output-rate / clip-rate buffers (real time; --hold N
//       holds each for N). After N plays (default 0: forever) it writes the empty background
//       (nobody there) until killed. Creates the --ready file once streaming and the --done file
//       after the last play; with --start, plays only the background until that file exists.
//   feeder verify RECORDED.y4m CLIP.y4m X Y [RESTARTS]
//       RECORDED is `dactyl record`'s C422 clip of the capture node: every recorded frame must
//       equal, byte for byte, a frame the feeder writes (a clip frame or the background), in
//       play order (going back to the clip's start at most once, plus once per feeder restart).
//       Prints one line and exits 0 when it holds.
//
// Built with aarch64-linux-gnu-gcc -static; plain ioctls (no libv4l2), so it checks Dactyl's
// libv4l2 path against the kernel's own interface.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/v4l2-dv-timings.h>
#include <linux/videodev2.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

// 16 output buffers (a quarter second at 60 Hz) keep vivid supplied when the emulated CPU is busy:
// with none queued, its capture side shows its own test pattern instead of looping.
enum { WIDTH = 640, HEIGHT = 480, BACKGROUND = 128, OUTPUT_BUFFERS = 16 };

static void die(const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    fprintf(stderr, "feeder: ");
    vfprintf(stderr, format, arguments);
    fprintf(stderr, "\n");
    va_end(arguments);
    exit(1);
}

static int xioctl(int fd, unsigned long request, void *argument) {
    int result;
    do {
        result = ioctl(fd, request, argument);
    } while (result == -1 && errno == EINTR);
    return result;
}

#define CHECK(call, what) do { if ((call) == -1) die("%s: %s", what, strerror(errno)); } while (0)

// --- Y4M (4:2:0 clips from the generator, 4:2:2 recordings from dactyl record) ------------------
struct clip {
    uint8_t *bytes;
    size_t size;
    int width, height, chroma_width, chroma_height;
    int rate_numerator, rate_denominator;
    size_t header_end, frame_bytes;
    int frames;
    size_t *offsets;  // each frame's picture data
};

static void read_clip(const char *path, struct clip *clip) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) die("%s: %s", path, strerror(errno));
    struct stat st;
    fstat(fd, &st);
    clip->size = (size_t)st.st_size;
    clip->bytes = mmap(NULL, clip->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (clip->bytes == MAP_FAILED) die("%s: mmap: %s", path, strerror(errno));
    close(fd);
    uint8_t *newline = memchr(clip->bytes, '\n', clip->size);
    if (!newline || memcmp(clip->bytes, "YUV4MPEG2 ", 10) != 0) die("%s: not a YUV4MPEG2 clip", path);
    clip->header_end = (size_t)(newline - clip->bytes) + 1;
    char header[512];
    size_t length = clip->header_end < sizeof header ? clip->header_end : sizeof header - 1;
    memcpy(header, clip->bytes, length);
    header[length - 1] = 0;
    clip->width = clip->height = 0;
    clip->rate_numerator = 30;
    clip->rate_denominator = 1;
    int vertical_shift = 1;
    for (char *token = strtok(header + 10, " "); token; token = strtok(NULL, " ")) {
        if (token[0] == 'W') clip->width = atoi(token + 1);
        if (token[0] == 'H') clip->height = atoi(token + 1);
        if (token[0] == 'F') sscanf(token + 1, "%d:%d", &clip->rate_numerator, &clip->rate_denominator);
        if (token[0] == 'C') {
            if (strncmp(token, "C420", 4) == 0) vertical_shift = 1;
            else if (strcmp(token, "C422") == 0) vertical_shift = 0;
            else die("%s: colour space %s, expected C420 or C422", path, token);
        }
    }
    if (clip->width <= 0 || clip->height <= 0) die("%s: no W/H in the header", path);
    clip->chroma_width = (clip->width + 1) / 2;
    clip->chroma_height = (clip->height + vertical_shift) >> vertical_shift;
    clip->frame_bytes = (size_t)clip->width * clip->height + 2u * clip->chroma_width * clip->chroma_height;
    clip->frames = 0;
    clip->offsets = NULL;
    size_t offset = clip->header_end;
    while (offset < clip->size) {
        if (clip->size - offset < 6 || memcmp(clip->bytes + offset, "FRAME", 5) != 0)
            die("%s: offset %zu: expected FRAME", path, offset);
        uint8_t *end = memchr(clip->bytes + offset, '\n', clip->size - offset);
        if (!end) die("%s: offset %zu: unterminated FRAME line", path, offset);
        size_t data = (size_t)(end - clip->bytes) + 1;
        if (clip->size - data < clip->frame_bytes) die("%s: frame %d is truncated", path, clip->frames);
        clip->offsets = realloc(clip->offsets, sizeof(size_t) * (size_t)(clip->frames + 1));
        clip->offsets[clip->frames++] = data;
        offset = data + clip->frame_bytes;
    }
    if (clip->frames == 0) die("%s: no frames", path);
}

// Clip frame `index` (or the empty background for index < 0) as YUYV 640x480, the clip's
// top-left corner at (x, y); bytes_per_line >= 2 * WIDTH.
static void compose(const struct clip *clip, int index, int x, int y, uint8_t *out, size_t bytes_per_line) {
    for (int row = 0; row < HEIGHT; row++) {
        uint8_t *line = out + (size_t)row * bytes_per_line;
        for (int column = 0; column < 2 * WIDTH; column++) line[column] = BACKGROUND;
        if (index < 0 || row < y || row >= y + clip->height) continue;
        const uint8_t *frame = clip->bytes + clip->offsets[index];
        int clip_row = row - y, chroma_row = clip_row >> 1;
        const uint8_t *luma = frame + (size_t)clip_row * clip->width;
        const uint8_t *u = frame + (size_t)clip->width * clip->height + (size_t)chroma_row * clip->chroma_width;
        const uint8_t *v = u + (size_t)clip->chroma_width * clip->chroma_height;
        for (int column = 0; column < clip->width && x + column < WIDTH; column++) {
            uint8_t *pixel = line + 2 * (x + column);
            pixel[0] = luma[column];
            // Even columns carry U, odd ones V (x is even); 4:2:0 chroma repeats over two rows.
            pixel[1] = (column & 1) ? v[column >> 1] : u[column >> 1];
        }
    }
}

// --- vivid set-up ---------------------------------------------------------------------------
static struct v4l2_dv_timings timings_640x480 = V4L2_DV_BT_DMT_640X480P60;

// Sets the control called `name` (on whichever node has it) to `value`, or, for a menu, to the
// item called `item`.
static void set_control(int fd_a, int fd_b, const char *name, int value, const char *item) {
    int fds[2] = {fd_a, fd_b};
    for (int n = 0; n < 2; n++) {
        struct v4l2_queryctrl query = {.id = V4L2_CTRL_FLAG_NEXT_CTRL};
        while (xioctl(fds[n], VIDIOC_QUERYCTRL, &query) == 0) {
            if (strcmp((const char *)query.name, name) == 0) {
                if (item) {
                    value = -1;
                    for (int i = query.minimum; i <= query.maximum; i++) {
                        struct v4l2_querymenu menu = {.id = query.id, .index = (uint32_t)i};
                        if (xioctl(fds[n], VIDIOC_QUERYMENU, &menu) == 0 && strcmp((const char *)menu.name, item) == 0) value = i;
                    }
                    if (value < 0) die("control '%s' has no item '%s'", name, item);
                }
                struct v4l2_control control = {.id = query.id, .value = value};
                CHECK(xioctl(fds[n], VIDIOC_S_CTRL, &control), name);
                return;
            }
            query.id |= V4L2_CTRL_FLAG_NEXT_CTRL;
        }
    }
    die("no control '%s' on vivid's nodes", name);
}

static void select_hdmi(int capture, int output) {
    int found = 0;
    for (uint32_t index = 0;; index++) {
        struct v4l2_input input = {.index = index};
        if (xioctl(capture, VIDIOC_ENUMINPUT, &input) == -1) break;
        if (input.capabilities & V4L2_IN_CAP_DV_TIMINGS) {
            int chosen = (int)index;
            CHECK(xioctl(capture, VIDIOC_S_INPUT, &chosen), "VIDIOC_S_INPUT (HDMI)");
            found = 1;
            break;
        }
    }
    if (!found) die("capture node has no HDMI (DV timings) input");
    CHECK(xioctl(capture, VIDIOC_S_DV_TIMINGS, &timings_640x480), "capture VIDIOC_S_DV_TIMINGS 640x480p60");
    found = 0;
    for (uint32_t index = 0;; index++) {
        struct v4l2_output output_description = {.index = index};
        if (xioctl(output, VIDIOC_ENUMOUTPUT, &output_description) == -1) break;
        if (output_description.capabilities & V4L2_OUT_CAP_DV_TIMINGS) {
            int chosen = (int)index;
            CHECK(xioctl(output, VIDIOC_S_OUTPUT, &chosen), "VIDIOC_S_OUTPUT (HDMI)");
            found = 1;
            break;
        }
    }
    if (!found) die("output node has no HDMI (DV timings) output");
    CHECK(xioctl(output, VIDIOC_S_DV_TIMINGS, &timings_640x480), "output VIDIOC_S_DV_TIMINGS 640x480p60");
}

static void touch(const char *path) {
    if (!path) return;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) close(fd);
}

static _Noreturn void play(int argc, char **argv) {
    if (argc < 7) die("usage: feeder play CAPTURE OUTPUT CLIP.y4m X Y [--loops N] [--ready FILE] [--start FILE] [--done FILE] [--hold N]");
    const char *capture_path = argv[2], *output_path = argv[3];
    struct clip clip;
    read_clip(argv[4], &clip);
    int x = atoi(argv[5]), y = atoi(argv[6]), loops = 0;
    const char *ready = NULL, *done = NULL, *start = NULL;
    int hold = 0;
    for (int i = 7; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--loops") == 0) loops = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--ready") == 0) ready = argv[i + 1];
        else if (strcmp(argv[i], "--done") == 0) done = argv[i + 1];
        else if (strcmp(argv[i], "--start") == 0) start = argv[i + 1];
        else if (strcmp(argv[i], "--hold") == 0) hold = atoi(argv[i + 1]);
        else die("unknown option %s", argv[i]);
    }
    if (x < 0 || y < 0 || (x & 1) || x + clip.width > WIDTH || y + clip.height > HEIGHT)
        die("the %dx%d clip does not fit at (%d, %d) in %dx%d (x must be even)", clip.width, clip.height, x, y, WIDTH, HEIGHT);

    // Ahead of dactyl on the one emulated CPU: a late buffer shows vivid's pattern, not the clip.
    setpriority(PRIO_PROCESS, 0, -10);
    int capture = open(capture_path, O_RDWR);
    if (capture < 0) die("%s: %s", capture_path, strerror(errno));
    int output = open(output_path, O_RDWR);
    if (output < 0) die("%s: %s", output_path, strerror(errno));
    select_hdmi(capture, output);
    set_control(capture, output, "OSD Text Mode", 0, "None");
    set_control(capture, output, "Loop Video", 1, NULL);

    // The capture side gets the same format, so that vivid can loop (dactyl record sets it again).
    struct v4l2_format format = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE};
    format.fmt.pix.width = WIDTH;
    format.fmt.pix.height = HEIGHT;
    format.fmt.pix.pixelformat = V4L2_PIX_FMT_YUYV;
    format.fmt.pix.field = V4L2_FIELD_NONE;
    CHECK(xioctl(capture, VIDIOC_S_FMT, &format), "capture VIDIOC_S_FMT YUYV 640x480");
    close(capture);  // dactyl opens it; vivid keeps input, timings, controls and format

    memset(&format, 0, sizeof format);
    format.type = V4L2_BUF_TYPE_VIDEO_OUTPUT;
    format.fmt.pix.width = WIDTH;
    format.fmt.pix.height = HEIGHT;
    format.fmt.pix.pixelformat = V4L2_PIX_FMT_YUYV;
    format.fmt.pix.field = V4L2_FIELD_NONE;
    CHECK(xioctl(output, VIDIOC_S_FMT, &format), "output VIDIOC_S_FMT YUYV 640x480");
    if (format.fmt.pix.width != WIDTH || format.fmt.pix.height != HEIGHT || format.fmt.pix.pixelformat != V4L2_PIX_FMT_YUYV)
        die("output format came back %ux%u", format.fmt.pix.width, format.fmt.pix.height);
    size_t bytes_per_line = format.fmt.pix.bytesperline, image_bytes = format.fmt.pix.sizeimage;

    // Real time: each clip frame is held for as many output frames as the two rates call for.
    struct v4l2_streamparm parameters = {.type = V4L2_BUF_TYPE_VIDEO_OUTPUT};
    double output_rate = 60;
    if (xioctl(output, VIDIOC_G_PARM, &parameters) == 0 && parameters.parm.output.timeperframe.numerator)
        output_rate = (double)parameters.parm.output.timeperframe.denominator / parameters.parm.output.timeperframe.numerator;
    double clip_rate = (double)clip.rate_numerator / clip.rate_denominator;
    if (hold < 1) hold = (int)(output_rate / clip_rate + 0.5);
    if (hold < 1) hold = 1;

    struct v4l2_requestbuffers request = {.count = OUTPUT_BUFFERS, .type = V4L2_BUF_TYPE_VIDEO_OUTPUT, .memory = V4L2_MEMORY_MMAP};
    CHECK(xioctl(output, VIDIOC_REQBUFS, &request), "output VIDIOC_REQBUFS");
    uint8_t *buffers[32];
    if (request.count < 2 || request.count > 32) die("output VIDIOC_REQBUFS gave %u buffers", request.count);
    long step = 0, total = (long)clip.frames * hold, gate = 0;
    int started = 0;
    int done_signalled = 0;
    for (uint32_t i = 0; i < request.count; i++) {
        struct v4l2_buffer buffer = {.index = i, .type = V4L2_BUF_TYPE_VIDEO_OUTPUT, .memory = V4L2_MEMORY_MMAP};
        CHECK(xioctl(output, VIDIOC_QUERYBUF, &buffer), "output VIDIOC_QUERYBUF");
        buffers[i] = mmap(NULL, buffer.length, PROT_READ | PROT_WRITE, MAP_SHARED, output, buffer.m.offset);
        if (buffers[i] == MAP_FAILED) die("output mmap: %s", strerror(errno));
    }
    for (uint32_t i = 0;; i = (i + 1) % request.count) {
        int index = -1;  // the background
        // Until the start file exists, only the background (nobody there); then the clip.
        if (!started && (!start || access(start, F_OK) == 0)) {
            started = 1;
            gate = step;
        }
        if (started) {
            long played = step - gate;
            if (loops == 0 || played < (long)loops * total) {
                index = (int)((played % total) / hold);
            } else if (!done_signalled) {
                fprintf(stderr, "feeder: played %s %d time(s): %d frames, each held %d output frames\n", argv[4], loops,
                        clip.frames, hold);
                touch(done);
                done_signalled = 1;
            }
        }
        step++;
        struct v4l2_buffer buffer = {.index = i, .type = V4L2_BUF_TYPE_VIDEO_OUTPUT, .memory = V4L2_MEMORY_MMAP};
        if (step > (long)request.count) {
            // Wait for vivid to give a buffer back (it takes them at the output's frame rate).
            struct pollfd descriptor = {.fd = output, .events = POLLOUT};
            if (poll(&descriptor, 1, 5000) <= 0) die("output: no buffer back for 5 s");
            CHECK(xioctl(output, VIDIOC_DQBUF, &buffer), "output VIDIOC_DQBUF");
        }
        compose(&clip, index, x, y, buffers[buffer.index], bytes_per_line);
        buffer.bytesused = (uint32_t)image_bytes;
        buffer.field = V4L2_FIELD_NONE;
        CHECK(xioctl(output, VIDIOC_QBUF, &buffer), "output VIDIOC_QBUF");
        if (step == (long)request.count) {
            int type = V4L2_BUF_TYPE_VIDEO_OUTPUT;
            CHECK(xioctl(output, VIDIOC_STREAMON, &type), "output VIDIOC_STREAMON");
            fprintf(stderr, "feeder: streaming %s (%dx%d, %d frames at %.3g fps, each held %d of %.3g output frames/s) at (%d, %d) into %s\n",
                    argv[4], clip.width, clip.height, clip.frames, clip_rate, hold, output_rate, x, y, output_path);
        }
        // Ready once vivid has shown two of the buffers: from then on the capture side loops the
        // output (before, a capture frame may show vivid's own pattern).
        if (step == (long)request.count + 2) touch(ready);
    }
}

static int verify(int argc, char **argv) {
    if (argc != 6 && argc != 7) die("usage: feeder verify RECORDED.y4m CLIP.y4m X Y [RESTARTS]");
    // The clip may go back to its start once by looping, and once more per feeder restart.
    int allowed_backwards = 1 + (argc == 7 ? atoi(argv[6]) : 0);
    struct clip recorded, clip;
    read_clip(argv[2], &recorded);
    read_clip(argv[3], &clip);
    int x = atoi(argv[4]), y = atoi(argv[5]);
    if (recorded.width != WIDTH || recorded.height != HEIGHT || recorded.chroma_height != HEIGHT)
        die("%s: expected a C422 640x480 recording, got %dx%d", argv[2], recorded.width, recorded.height);
    size_t line = 2 * WIDTH, image = line * HEIGHT;
    uint8_t *expected = malloc(image * (size_t)(clip.frames + 1)), *got = malloc(image);
    for (int k = -1; k < clip.frames; k++) compose(&clip, k, x, y, expected + image * (size_t)(k + 1), line);
    int previous = -2, distinct = 0, first = -2, backwards = 0, bad = 0;
    char first_bad[400] = "";
    for (int f = 0; f < recorded.frames; f++) {
        // The recording's planes back into YUYV.
        const uint8_t *planes = recorded.bytes + recorded.offsets[f];
        const uint8_t *luma = planes, *u = planes + WIDTH * HEIGHT, *v = u + (WIDTH / 2) * HEIGHT;
        for (int row = 0; row < HEIGHT; row++)
            for (int column = 0; column < WIDTH; column++) {
                uint8_t *pixel = got + (size_t)row * line + 2 * column;
                pixel[0] = luma[row * WIDTH + column];
                pixel[1] = (column & 1) ? v[row * (WIDTH / 2) + column / 2] : u[row * (WIDTH / 2) + column / 2];
            }
        int match = -2;
        for (int k = -1; k < clip.frames && match == -2; k++)
            if (memcmp(got, expected + image * (size_t)(k + 1), image) == 0) match = k;
        if (match == -2) {
            // Name the nearest fed frame, to tell "slightly off" (a conversion) from "something else".
            size_t fewest = image;
            int nearest = -1;
            for (int k = -1; k < clip.frames; k++) {
                size_t differing = 0;
                for (size_t i = 0; i < image; i++) differing += got[i] != expected[i + image * (size_t)(k + 1)];
                if (differing < fewest) { fewest = differing; nearest = k; }
            }
            // Where it differs: luma or chroma bytes, which rows.
            const uint8_t *near = expected + image * (size_t)(nearest + 1);
            size_t luma = 0, chroma = 0;
            int first_row = -1, last_row = -1;
            for (size_t i = 0; i < image; i++) {
                if (got[i] == near[i]) continue;
                if (i % 2 == 0) luma++; else chroma++;
                int row = (int)(i / line);
                if (first_row < 0) first_row = row;
                last_row = row;
            }
            if (bad == 0)
                snprintf(first_bad, sizeof first_bad, "recorded frame %d equals no frame the feeder wrote (nearest: %s %d, %zu of %zu bytes "
                         "differ: %zu luma, %zu chroma, rows %d..%d; first bytes %02x %02x %02x %02x)",
                         f, nearest < 0 ? "the background" : "clip frame", nearest, fewest, image, luma, chroma, first_row, last_row,
                         got[0], got[1], got[2], got[3]);
            bad++;
            fprintf(stderr, "verify: frame %d: no match\n", f);
            continue;
        }
        fprintf(stderr, "verify: frame %d: %d\n", f, match);
        if (first == -2) first = match;
        if (match != previous) distinct++;
        if (match >= 0 && previous >= 0 && match < previous) backwards++;  // the clip loops
        previous = match;
    }
    if (bad) {
        printf("VERIFY FAIL: %s; %d of %d frames fail\n", first_bad, bad, recorded.frames);
        return 1;
    }
    if (distinct < 2) {
        printf("VERIFY FAIL: the %d recorded frames are all clip frame %d: the capture did not follow the output\n", recorded.frames, first);
        return 1;
    }
    if (backwards > allowed_backwards) {
        printf("VERIFY FAIL: recorded frames went back in the clip %d times\n", backwards);
        return 1;
    }
    printf("VERIFY PASS: %d recorded frames equal fed frames byte for byte (%d distinct, clip frames %d..%d)\n",
           recorded.frames, distinct, first, previous);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "play") == 0) play(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "verify") == 0) return verify(argc, argv);
    die("usage: feeder play CAPTURE OUTPUT CLIP.y4m X Y [...] | feeder verify RECORDED.y4m CLIP.y4m X Y");
    return 2;
}
