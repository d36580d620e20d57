/*
 * insn_count: a qemu TCG plugin that counts the guest instructions a program executes, by class,
 * and optionally by function, for the aarch64 time estimate (docs/aarch64-estimate.md).
 *
 *   qemu-aarch64 -cpu cortex-a76 -plugin ./libinsn_count.so,out=FILE[,sym=N] ./program ...
 *
 * Counting is inline (no helper call per instruction): when qemu translates a block, the plugin
 * classifies each instruction once from its disassembly and adds one inline "counter += k" per
 * class with a non-zero k to the block's entry. A block left early (an exception, a syscall)
 * is still counted whole: the error is a handful of instructions per syscall, nothing per frame.
 * The counters are plain (non-atomic) adds, so run the guest with one thread.
 *
 * Classes (from the mnemonic and operands qemu's disassembler prints):
 *   dot        sdot/udot/usdot/sudot, smmla/ummla/usmmla (int8 dot products)
 *   simd_mul   vector/FP multiply and multiply-accumulate: smlal(2), umlal(2), smull(2), umull(2),
 *              smlsl, mla, mls, mul, sqdmulh, sqrdmulh, fmla, fmls, fmul, fmadd, ...
 *   load       ld* (ldr, ldp, ld1, ldur, ldrb, ...)
 *   store      st* (str, stp, st1, stur, ...)
 *   simd_other any other instruction with a SIMD/FP register operand (v.., q.., d.., s.., h.., b..)
 *   branch     b, b.cond, bl, br, blr, ret, cbz, cbnz, tbz, tbnz
 *   other      everything else (scalar integer)
 * plus two lane counters: int_mac_lanes (multiply-accumulates done by dot/simd_mul instructions on
 * integers: sdot v.4s = 16, smlal v.8h = 8, mla v.16b = 16, smmla = 32) and fp_mac_lanes (fmla v.4s = 4).
 *
 * qemu 7.2's aarch64 disassembler predates ARMv8.2: it prints dot products, FP16 arithmetic and
 * other newer instructions as ".byte ...". Those are classified from their encoding instead (the
 * dot-product and FP16 FMLA encodings exactly, the rest by the top-level encoding group);
 * from_encoding counts the executed instructions classified that way (they are in the classes too).
 *
 * Arguments: out=FILE (default: stderr), sym=N (also print the N functions that executed the most
 * instructions; the function of a block is the symbol of its first instruction), skip=PREFIX (count
 * nothing in blocks whose function's name starts with PREFIX, only their instructions as `skipped`:
 * for loops that run for a wall-clock time, such as dactyl bench's peak measurement, whose counts
 * under qemu differ from run to run).
 *
 * Built against qemu's plugin API version 1 (qemu 7.2, include/qemu/qemu-plugin.h). The few
 * declarations this plugin needs are written out below so that it builds without a qemu source tree.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the part of qemu's plugin API (version 1) used here ---------------------------------- */
typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t {
    const char *target_name;
    struct { int min; int cur; } version;
    bool system_emulation;
    union { struct { int smp_vcpus; int max_vcpus; } system; };
} qemu_info_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op,
                                              void *ptr, uint64_t imm);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
char *qemu_plugin_insn_disas(const struct qemu_plugin_insn *insn);
const void *qemu_plugin_insn_data(const struct qemu_plugin_insn *insn);
const char *qemu_plugin_insn_symbol(const struct qemu_plugin_insn *insn);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);

#define EXPORT __attribute__((visibility("default")))
EXPORT int qemu_plugin_version = 1;

/* ---- counters -------------------------------------------------------------------------------- */
enum { DOT, SIMD_MUL, LOAD, STORE, SIMD_OTHER, BRANCH, OTHER, INT_MAC_LANES, FP_MAC_LANES, FROM_ENCODING, COUNTERS };
static const char *const counter_names[COUNTERS] = {
    "dot", "simd_mul", "load", "store", "simd_other", "branch", "other", "int_mac_lanes", "fp_mac_lanes",
    "from_encoding",
};
static uint64_t counters[COUNTERS];

/* Per-function counters: an open-addressing table keyed by the symbol string qemu returns (qemu
 * keeps those strings for the life of the process, so the pointer identifies the function). */
#define SYMBOL_SLOTS 65536
struct symbol_count { const char *name; uint64_t instructions; };
static struct symbol_count *symbols;
static int symbols_to_print;
static FILE *out;

static uint64_t *symbol_counter(const char *name) {
    if (!name) name = "?";
    size_t slot = ((uintptr_t)name >> 3) * 0x9E3779B97F4A7C15ull % SYMBOL_SLOTS;
    for (size_t probe = 0; probe < SYMBOL_SLOTS; probe++, slot = (slot + 1) % SYMBOL_SLOTS) {
        if (symbols[slot].name == name) return &symbols[slot].instructions;
        if (!symbols[slot].name) { symbols[slot].name = name; return &symbols[slot].instructions; }
    }
    return NULL; /* table full: that block goes uncounted by function (the totals still count it) */
}

/* ---- classification -------------------------------------------------------------------------- */
static bool is_one_of(const char *mnemonic, const char *const *list) {
    for (; *list; list++) if (strcmp(mnemonic, *list) == 0) return true;
    return false;
}

/* Lanes of a vector operand's arrangement ("v3.16b" -> 16, "v0.4s" -> 4); 1 for a scalar register. */
static unsigned arrangement_lanes(const char *operand) {
    const char *dot = strchr(operand, '.');
    if (!dot || operand[0] != 'v') return 1;
    unsigned lanes = (unsigned)strtoul(dot + 1, NULL, 10);
    return lanes ? lanes : 1;
}

static bool has_simd_register(const char *operands) {
    for (const char *p = operands; *p; p++) {
        bool starts = p == operands || p[-1] == ' ' || p[-1] == '{' || p[-1] == '[' || p[-1] == ',';
        if (starts && strchr("vqdshb", *p) && p[1] >= '0' && p[1] <= '9') return true;
    }
    return false;
}

struct insn_class { int counter; unsigned int_lanes, fp_lanes; };

static struct insn_class classify(const char *disassembly) {
    static const char *const dots[] = {"sdot", "udot", "usdot", "sudot", "smmla", "ummla", "usmmla", NULL};
    static const char *const int_muls[] = {
        "smlal", "smlal2", "umlal", "umlal2", "smlsl", "smlsl2", "umlsl", "umlsl2", "smull", "smull2", "umull",
        "umull2", "mla", "mls", "sqdmulh", "sqrdmulh", "sqdmlal", "sqdmlal2", "sqrdmlah", NULL};
    static const char *const fp_muls[] = {"fmla", "fmls", "fmul", "fmadd", "fmsub", "fnmadd", "fnmsub", "fmlal",
                                          "fmlal2", "bfdot", "bfmmla", "fmulx", NULL};
    static const char *const branches[] = {"b", "bl", "br", "blr", "ret", "cbz", "cbnz", "tbz", "tbnz", NULL};
    char mnemonic[32];
    size_t length = strcspn(disassembly, " \t");
    if (length >= sizeof mnemonic) length = sizeof mnemonic - 1;
    memcpy(mnemonic, disassembly, length);
    mnemonic[length] = 0;
    const char *operands = disassembly + length;
    while (*operands == ' ' || *operands == '\t') operands++;
    struct insn_class result = {OTHER, 0, 0};
    unsigned lanes = arrangement_lanes(operands);
    bool vector = has_simd_register(operands);

    if (is_one_of(mnemonic, dots)) {
        result.counter = DOT;
        /* each 32-bit lane of the destination sums 4 byte products; smmla: 2x2 lanes of 8 */
        result.int_lanes = strstr(mnemonic, "mmla") ? 32 : 4 * lanes;
    } else if (vector && (is_one_of(mnemonic, int_muls) || strcmp(mnemonic, "mul") == 0)) {
        result.counter = SIMD_MUL;
        result.int_lanes = lanes;
    } else if (is_one_of(mnemonic, fp_muls)) {
        result.counter = SIMD_MUL;
        result.fp_lanes = lanes;
    } else if (strncmp(mnemonic, "ld", 2) == 0) {
        result.counter = LOAD;
    } else if (strncmp(mnemonic, "st", 2) == 0) {
        result.counter = STORE;
    } else if (is_one_of(mnemonic, branches) || strncmp(mnemonic, "b.", 2) == 0) {
        result.counter = BRANCH;
    } else if (vector) {
        result.counter = SIMD_OTHER;
    }
    return result;
}

/* For instructions the disassembler does not know: the encodings that matter here exactly
 * (ARM ARM, "Advanced SIMD three same (extra)" and "vector x indexed element"), the rest by the
 * top-level group of bits 28:25. */
static struct insn_class classify_encoding(uint32_t e) {
    struct insn_class result = {OTHER, 0, 0};
    bool q = (e >> 30) & 1;
    if ((e & 0x9FE0FC00u) == 0x0E809400u || (e & 0x9FC0F400u) == 0x0F80E000u) { /* sdot/udot vector, element */
        result.counter = DOT; result.int_lanes = q ? 16 : 8;
    } else if ((e & 0xBFE0FC00u) == 0x0E809C00u || (e & 0xBFC0F400u) == 0x0F00F000u ||
               (e & 0xBFC0F400u) == 0x0F80F000u) { /* usdot vector, sudot/usdot element */
        result.counter = DOT; result.int_lanes = q ? 16 : 8;
    } else if ((e & 0xDFE0F400u) == 0x4E80A400u) { /* smmla, ummla, usmmla */
        result.counter = DOT; result.int_lanes = 32;
    } else if ((e & 0xBF60FC00u) == 0x0E400C00u || (e & 0xBFC0F400u) == 0x0F001000u ||
               (e & 0xBFC0F400u) == 0x0F005000u || (e & 0xBFE0FC00u) == 0x2E401C00u) {
        /* FP16 fmla/fmls vector, fmla/fmls element, fmul vector */
        result.counter = SIMD_MUL; result.fp_lanes = q ? 8 : 4;
    } else if (((e >> 25) & 0x5) == 0x4) { /* x1x0: loads and stores; bit 22 is L in the common forms */
        result.counter = (e >> 22) & 1 ? LOAD : STORE;
    } else if (((e >> 25) & 0x7) == 0x7) { /* x111: SIMD and FP data processing */
        result.counter = SIMD_OTHER;
    } else if (((e >> 26) & 0x7) == 0x5) { /* 101x: branches, exceptions, system */
        result.counter = BRANCH;
    }
    return result;
}

/* ---- instrumentation ------------------------------------------------------------------------- */
static const char *skip_prefix;
static uint64_t skipped;

static void translate_block(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
    (void)id;
    uint64_t add[COUNTERS] = {0};
    size_t count = qemu_plugin_tb_n_insns(tb);
    if (skip_prefix && count) {
        const char *name = qemu_plugin_insn_symbol(qemu_plugin_tb_get_insn(tb, 0));
        if (name && strncmp(name, skip_prefix, strlen(skip_prefix)) == 0) {
            qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &skipped, count);
            return;
        }
    }
    for (size_t i = 0; i < count; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        char *disassembly = qemu_plugin_insn_disas(insn);
        struct insn_class kind;
        if (!disassembly || strncmp(disassembly, ".byte", 5) == 0 || strncmp(disassembly, ".word", 5) == 0) {
            uint32_t encoding;
            memcpy(&encoding, qemu_plugin_insn_data(insn), sizeof encoding); /* aarch64: little-endian */
            kind = classify_encoding(encoding);
            add[FROM_ENCODING] += 1;
        } else {
            kind = classify(disassembly);
        }
        free(disassembly);
        add[kind.counter] += 1;
        add[INT_MAC_LANES] += kind.int_lanes;
        add[FP_MAC_LANES] += kind.fp_lanes;
    }
    for (int c = 0; c < COUNTERS; c++)
        if (add[c]) qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &counters[c], add[c]);
    if (symbols && count) {
        uint64_t *function = symbol_counter(qemu_plugin_insn_symbol(qemu_plugin_tb_get_insn(tb, 0)));
        if (function) qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, function, count);
    }
}

static int by_instructions_descending(const void *a, const void *b) {
    uint64_t x = ((const struct symbol_count *)a)->instructions, y = ((const struct symbol_count *)b)->instructions;
    return x < y ? 1 : x > y ? -1 : 0;
}

static void report(qemu_plugin_id_t id, void *userdata) {
    (void)id; (void)userdata;
    uint64_t total = 0;
    for (int c = 0; c <= OTHER; c++) total += counters[c];
    fprintf(out, "total %" PRIu64 "\n", total);
    for (int c = 0; c < COUNTERS; c++) fprintf(out, "%s %" PRIu64 "\n", counter_names[c], counters[c]);
    if (skip_prefix) fprintf(out, "skipped %" PRIu64 "\n", skipped);
    if (symbols) {
        qsort(symbols, SYMBOL_SLOTS, sizeof *symbols, by_instructions_descending);
        for (int i = 0; i < symbols_to_print && i < SYMBOL_SLOTS && symbols[i].instructions; i++)
            fprintf(out, "sym %" PRIu64 " %s\n", symbols[i].instructions, symbols[i].name);
    }
    if (out != stderr) fclose(out);
}

EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv) {
    (void)info;
    out = stderr;
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "out=", 4) == 0) {
            out = fopen(argv[i] + 4, "w");
            if (!out) { fprintf(stderr, "insn_count: cannot write %s\n", argv[i] + 4); return 1; }
        } else if (strncmp(argv[i], "sym=", 4) == 0) {
            symbols_to_print = atoi(argv[i] + 4);
            symbols = symbols_to_print > 0 ? calloc(SYMBOL_SLOTS, sizeof *symbols) : NULL;
        } else if (strncmp(argv[i], "skip=", 5) == 0 && argv[i][5]) {
            skip_prefix = argv[i] + 5;
        } else {
            fprintf(stderr, "insn_count: unknown argument '%s' (expected out=FILE, sym=N or skip=PREFIX)\n", argv[i]);
            return 1;
        }
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, translate_block);
    qemu_plugin_register_atexit_cb(id, report, NULL);
    return 0;
}
