/*
 * fmt.c - the printf engine behind kprintf and ksnprintf.
 *
 * What it does
 *   Interprets a C99 printf format string against a va_list and passes the
 *   output, in runs, to a sink function. It is pure logic: no globals, no
 *   kernel headers, no libc, so tests/host/test_fmt.c compiles this very file
 *   under ASan/UBSan and compares it with the host's snprintf.
 *
 * The supported subset (C11 7.21.6.1 is the reference)
 *   conversions  d i u x X o p s c %
 *   flags        - (left-justify)  0 (zero-pad)  + (always sign)
 *                space (sign slot)  # (0x/0X prefix, octal leading 0)
 *   width        decimal or *, a negative * width means '-' and |width|
 *   precision    .decimal or .*, a negative * precision means "none"
 *   length       hh h l ll z t j
 *   %p prints like %#lx (glibc's form; NULL prints "(nil)"); %s of NULL
 *   prints "(null)", cut by the precision. A conversion outside the subset
 *   (floats, %n, %ls) is echoed literally, e.g. "%f", so the mistake shows.
 *
 * Invariants
 *   - Every byte emitted goes through the sink exactly once, in order; the
 *     return value is the number of bytes emitted.
 *   - %s never reads past the precision (strings need not be terminated
 *     within it), and nothing ever reads past the format's terminating NUL.
 *   - Widths and precisions are clamped to FMT_MAX_FIELD so a hostile
 *     format cannot overflow an int.
 *
 * Steps, for each directive
 *   1. Copy the literal run before '%' in one sink call.
 *   2. Parse flags, width, precision and length into struct fmt_spec.
 *   3. Fetch the argument with va_arg at its promoted type, then narrow it
 *      to the length modifier's type (hh, h) as C requires.
 *   4. Integers: digits are produced backwards into a small buffer; then the
 *      field is assembled as [pad][sign][prefix][precision zeros][digits]
 *      [pad], where the padding goes left, right (flag -) or between the
 *      prefix and the digits (flag 0 without a precision).
 *   5. Strings and characters: [pad][bytes][pad].
 *
 * Cites: ISO C11 7.21.6.1 (fprintf), for the rules of each flag; glibc's
 * output for %p and NULL strings, which the host test compares against.
 */
#include "kernel/lib/fmt.h"

#include <stdbool.h>
#include <stdint.h>

#include "kernel/lib/kprintf.h"

enum {
    FL_MINUS = 1 << 0,
    FL_ZERO  = 1 << 1,
    FL_PLUS  = 1 << 2,
    FL_SPACE = 1 << 3,
    FL_HASH  = 1 << 4,
};

enum fmt_len { LEN_NONE, LEN_HH, LEN_H, LEN_L, LEN_LL, LEN_Z, LEN_T, LEN_J };

#define FMT_MAX_FIELD 4096 /* widths/precisions above this are clamped */

struct fmt_spec {
    unsigned flags;
    int width; /* >= 0 */
    int prec;  /* -1: none given */
    enum fmt_len len;
    char conv;
};

struct fmt_out {
    fmt_sink_fn sink;
    void *ctx;
    int count;
};

static void out(struct fmt_out *o, const char *s, size_t n)
{
    if (n == 0)
        return;
    o->sink(o->ctx, s, n);
    o->count += (int)n;
}

static void out_repeat(struct fmt_out *o, char c, int n)
{
    char chunk[16];
    for (int i = 0; i < (int)sizeof(chunk); i++)
        chunk[i] = c;
    while (n > 0) {
        int k = n < (int)sizeof(chunk) ? n : (int)sizeof(chunk);
        out(o, chunk, (size_t)k);
        n -= k;
    }
}

static int clamp_field(long v)
{
    return v > FMT_MAX_FIELD ? FMT_MAX_FIELD : (int)v;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* Parses the directive after '%'; returns the pointer past it, or NULL if the
 * format ends inside the directive. */
static const char *parse_spec(const char *p, struct fmt_spec *sp, va_list *ap)
{
    sp->flags = 0;
    sp->width = 0;
    sp->prec = -1;
    sp->len = LEN_NONE;

    for (;; p++) {
        if (*p == '-') sp->flags |= FL_MINUS;
        else if (*p == '0') sp->flags |= FL_ZERO;
        else if (*p == '+') sp->flags |= FL_PLUS;
        else if (*p == ' ') sp->flags |= FL_SPACE;
        else if (*p == '#') sp->flags |= FL_HASH;
        else break;
    }

    if (*p == '*') {
        int w = va_arg(*ap, int);
        if (w < 0) {
            sp->flags |= FL_MINUS;
            w = w == INT32_MIN ? FMT_MAX_FIELD : -w;
        }
        sp->width = clamp_field(w);
        p++;
    } else {
        long w = 0;
        while (is_digit(*p)) {
            w = w * 10 + (*p++ - '0');
            if (w > FMT_MAX_FIELD)
                w = FMT_MAX_FIELD + 1;
        }
        sp->width = clamp_field(w);
    }

    if (*p == '.') {
        p++;
        if (*p == '*') {
            int pr = va_arg(*ap, int);
            sp->prec = pr < 0 ? -1 : clamp_field(pr);
            p++;
        } else {
            long pr = 0;
            while (is_digit(*p)) {
                pr = pr * 10 + (*p++ - '0');
                if (pr > FMT_MAX_FIELD)
                    pr = FMT_MAX_FIELD + 1;
            }
            sp->prec = clamp_field(pr);
        }
    }

    switch (*p) {
    case 'h':
        if (p[1] == 'h') { sp->len = LEN_HH; p += 2; } else { sp->len = LEN_H; p++; }
        break;
    case 'l':
        if (p[1] == 'l') { sp->len = LEN_LL; p += 2; } else { sp->len = LEN_L; p++; }
        break;
    case 'z': sp->len = LEN_Z; p++; break;
    case 't': sp->len = LEN_T; p++; break;
    case 'j': sp->len = LEN_J; p++; break;
    default: break;
    }

    if (*p == '\0')
        return NULL;
    sp->conv = *p;
    return p + 1;
}

static int64_t fetch_signed(enum fmt_len len, va_list *ap)
{
    switch (len) {
    case LEN_HH: return (signed char)va_arg(*ap, int);
    case LEN_H: return (short)va_arg(*ap, int);
    case LEN_L: return va_arg(*ap, long);
    case LEN_LL: return va_arg(*ap, long long);
    case LEN_Z: return va_arg(*ap, long); /* the signed type of size_t */
    case LEN_T: return va_arg(*ap, ptrdiff_t);
    case LEN_J: return va_arg(*ap, intmax_t);
    default: return va_arg(*ap, int);
    }
}

static uint64_t fetch_unsigned(enum fmt_len len, va_list *ap)
{
    switch (len) {
    case LEN_HH: return (unsigned char)va_arg(*ap, unsigned int);
    case LEN_H: return (unsigned short)va_arg(*ap, unsigned int);
    case LEN_L: return va_arg(*ap, unsigned long);
    case LEN_LL: return va_arg(*ap, unsigned long long);
    case LEN_Z: return va_arg(*ap, size_t);
    case LEN_T: return (uint64_t)va_arg(*ap, ptrdiff_t);
    case LEN_J: return va_arg(*ap, uintmax_t);
    default: return va_arg(*ap, unsigned int);
    }
}

/* Writes |v| in base into the end of buf; returns the first digit. */
static char *utoa_rev(char *end, uint64_t v, unsigned base, bool upper)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char *p = end;
    do {
        *--p = digits[v % base];
        v /= base;
    } while (v != 0);
    return p;
}

static void format_int(struct fmt_out *o, const struct fmt_spec *sp, uint64_t mag, bool negative)
{
    char buf[24]; /* 22 octal digits hold 64 bits */
    char *end = buf + sizeof(buf);
    unsigned base = 10;
    bool upper = false;
    const char *prefix = "";
    char sign = 0;

    switch (sp->conv) {
    case 'x': base = 16; break;
    case 'X': base = 16; upper = true; break;
    case 'o': base = 8; break;
    case 'p': base = 16; break;
    default: break;
    }

    char *digits = utoa_rev(end, mag, base, upper);
    int ndigits = (int)(end - digits);
    /* C11: precision 0 with value 0 produces no digits. */
    if (sp->prec == 0 && mag == 0)
        ndigits = 0;

    if (sp->conv == 'd' || sp->conv == 'i') {
        if (negative) sign = '-';
        else if (sp->flags & FL_PLUS) sign = '+';
        else if (sp->flags & FL_SPACE) sign = ' ';
    }
    if (sp->conv == 'p')
        prefix = "0x";
    else if ((sp->flags & FL_HASH) && mag != 0 && base == 16)
        prefix = upper ? "0X" : "0x";

    int zeros = sp->prec > ndigits ? sp->prec - ndigits : 0;
    /* '#' with 'o': the first digit printed must be 0. */
    if (sp->conv == 'o' && (sp->flags & FL_HASH) && zeros == 0 && (ndigits == 0 || digits[0] != '0'))
        zeros = 1;

    int prefix_len = (int)__builtin_strlen(prefix);
    int body = (sign ? 1 : 0) + prefix_len + zeros + ndigits;
    int pad = sp->width > body ? sp->width - body : 0;
    bool zero_pad = (sp->flags & FL_ZERO) && !(sp->flags & FL_MINUS) && sp->prec < 0;

    if (!(sp->flags & FL_MINUS) && !zero_pad)
        out_repeat(o, ' ', pad);
    if (sign)
        out(o, &sign, 1);
    out(o, prefix, (size_t)prefix_len);
    if (zero_pad)
        out_repeat(o, '0', pad);
    out_repeat(o, '0', zeros);
    out(o, digits, (size_t)ndigits);
    if (sp->flags & FL_MINUS)
        out_repeat(o, ' ', pad);
}

static void format_bytes(struct fmt_out *o, const struct fmt_spec *sp, const char *s, size_t n)
{
    int pad = sp->width > (int)n ? sp->width - (int)n : 0;
    if (!(sp->flags & FL_MINUS))
        out_repeat(o, ' ', pad);
    out(o, s, n);
    if (sp->flags & FL_MINUS)
        out_repeat(o, ' ', pad);
}

static size_t bounded_strlen(const char *s, int prec)
{
    size_t n = 0;
    while ((prec < 0 || n < (size_t)prec) && s[n] != '\0')
        n++;
    return n;
}

int fmt_vformat(fmt_sink_fn sink, void *ctx, const char *fmt, va_list ap_in)
{
    struct fmt_out o = { sink, ctx, 0 };
    va_list ap;
    va_copy(ap, ap_in);

    const char *p = fmt;
    while (*p != '\0') {
        /* 1. the literal run */
        const char *run = p;
        while (*p != '\0' && *p != '%')
            p++;
        out(&o, run, (size_t)(p - run));
        if (*p == '\0')
            break;

        /* 2. the directive */
        const char *directive = p;
        struct fmt_spec sp;
        const char *next = parse_spec(p + 1, &sp, &ap);
        if (next == NULL) { /* format ends inside a directive: echo it */
            out(&o, directive, __builtin_strlen(directive));
            break;
        }
        p = next;

        /* 3-5. the conversion */
        switch (sp.conv) {
        case 'd':
        case 'i': {
            int64_t v = fetch_signed(sp.len, &ap);
            uint64_t mag = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
            format_int(&o, &sp, mag, v < 0);
            break;
        }
        case 'u':
        case 'x':
        case 'X':
        case 'o':
            format_int(&o, &sp, fetch_unsigned(sp.len, &ap), false);
            break;
        case 'p': {
            void *ptr = va_arg(ap, void *);
            if (ptr == NULL) {
                format_bytes(&o, &sp, "(nil)", 5);
            } else {
                struct fmt_spec ps = sp;
                ps.flags &= ~(unsigned)(FL_PLUS | FL_SPACE);
                format_int(&o, &ps, (uint64_t)(uintptr_t)ptr, false);
            }
            break;
        }
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (s == NULL)
                s = "(null)";
            format_bytes(&o, &sp, s, bounded_strlen(s, sp.prec));
            break;
        }
        case 'c': {
            char c = (char)va_arg(ap, int);
            format_bytes(&o, &sp, &c, 1);
            break;
        }
        case '%':
            out(&o, "%", 1);
            break;
        default: /* unsupported: echo the directive as written */
            out(&o, directive, (size_t)(p - directive));
            break;
        }
    }
    va_end(ap);
    return o.count;
}

/* ksnprintf: a bounded buffer sink that keeps counting after it is full. */
struct buf_sink {
    char *buf;
    size_t size; /* capacity including the NUL; 0 = count only */
    size_t pos;  /* bytes stored so far, <= size - 1 */
};

static void buf_sink_put(void *ctx, const char *s, size_t n)
{
    struct buf_sink *b = ctx;
    if (b->size == 0)
        return;
    size_t room = b->size - 1 - b->pos;
    size_t k = n < room ? n : room;
    for (size_t i = 0; i < k; i++)
        b->buf[b->pos + i] = s[i];
    b->pos += k;
}

int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct buf_sink b = { buf, size, 0 };
    int n = fmt_vformat(buf_sink_put, &b, fmt, ap);
    if (size != 0)
        buf[b.pos] = '\0';
    return n;
}

int ksnprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = kvsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}
