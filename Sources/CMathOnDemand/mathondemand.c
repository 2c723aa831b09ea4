// libm, loaded on first use.
//
// The Swift runtime and standard library that a --static-swift-stdlib link puts
// into the executable reference about a hundred libm functions (rounding, fma,
// the elementary functions of Float, Double and Float80), so the executable
// would load libm.so.6 at every start: 0.4 MiB of resident memory, and its
// mappings, relocations and IFUNC resolvers run by the loader. A run of mqttctl
// calls one of them on its common paths, ceil, which is defined here; each of
// the others has libm's own signature, and its first call opens libm.so.6 with
// dlopen and keeps the address of the real function, which every later call
// jumps to, so results, errno and the CPU-specific variant chosen are libm's.
// In the release link, "-lm" finds scripts/release-libraries/libm.so, which asks
// for libm.so.6 only as needed, so it is no longer a DT_NEEDED of the executable
// (scripts/check-install checks that, and that a function loaded on demand
// works). A libm function that a later toolchain starts to reference and that is
// not listed here makes the link need libm again, and still works.
#include "CMathOnDemand.h"

double mqttctl_ceil(double x) {
    if (!(__builtin_fabs(x) < 0x1p52)) return x;
    double truncated = (double)(long long)x;
    if (truncated < x) truncated += 1.0;
    return __builtin_copysign(truncated, x);
}

#ifdef MQTTCTL_MATH_ON_DEMAND
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

static void *real_function(const char *name) {
    static void *libm;
    void *handle = __atomic_load_n(&libm, __ATOMIC_ACQUIRE);
    if (handle == NULL) {
        handle = dlopen("libm.so.6", RTLD_NOW | RTLD_LOCAL);
        if (handle == NULL) {
            // No value can be returned that would be right: stop, as a failed
            // load at start-up would have.
            fprintf(stderr, "mqttctl: cannot load libm.so.6: %s\n", dlerror());
            abort();
        }
        __atomic_store_n(&libm, handle, __ATOMIC_RELEASE);
    }
    void *function = dlsym(handle, name);
    if (function == NULL) {
        fprintf(stderr, "mqttctl: libm.so.6 has no %s\n", name);
        abort();
    }
    return function;
}

// One function: the pointer is resolved once; a race between two first calls
// stores the same address twice.
#define STUB(type, name, parameters, arguments)                                    \
    type name parameters {                                                         \
        static type(*real) parameters;                                             \
        type(*function) parameters = __atomic_load_n(&real, __ATOMIC_ACQUIRE);     \
        if (function == NULL) {                                                    \
            function = (type(*) parameters)real_function(#name);                   \
            __atomic_store_n(&real, function, __ATOMIC_RELEASE);                   \
        }                                                                          \
        return function arguments;                                                 \
    }

// ceil is called at every start: the standard library sizes every Set and
// Dictionary with it (_HashTable.scale(forCapacity:)). It is exact and needs no
// table, so it is here rather than loaded: |x| < 2^52 truncates exactly through
// an integer, larger values, infinities and NaN are their own ceiling, and the
// sign is kept so that ceil(-0.5) is -0.0 as in libm. mqttctl_ceil is built in
// every configuration, so that the unit tests check it against libm's ceil.
double ceil(double x) { return mqttctl_ceil(x); }

STUB(float, acosf, (float x), (x))
STUB(float, acoshf, (float x), (x))
STUB(float, asinf, (float x), (x))
STUB(float, asinhf, (float x), (x))
STUB(float, atanf, (float x), (x))
STUB(float, atanhf, (float x), (x))
STUB(float, cbrtf, (float x), (x))
STUB(float, ceilf, (float x), (x))
STUB(float, cosf, (float x), (x))
STUB(float, coshf, (float x), (x))
STUB(float, erfcf, (float x), (x))
STUB(float, erff, (float x), (x))
STUB(float, exp2f, (float x), (x))
STUB(float, expf, (float x), (x))
STUB(float, expm1f, (float x), (x))
STUB(float, floorf, (float x), (x))
STUB(float, log10f, (float x), (x))
STUB(float, log1pf, (float x), (x))
STUB(float, log2f, (float x), (x))
STUB(float, logbf, (float x), (x))
STUB(float, logf, (float x), (x))
STUB(float, nearbyintf, (float x), (x))
STUB(float, rintf, (float x), (x))
STUB(float, roundf, (float x), (x))
STUB(float, sinf, (float x), (x))
STUB(float, sinhf, (float x), (x))
STUB(float, sqrtf, (float x), (x))
STUB(float, tanf, (float x), (x))
STUB(float, tanhf, (float x), (x))
STUB(float, tgammaf, (float x), (x))
STUB(float, truncf, (float x), (x))
STUB(double, cos, (double x), (x))
STUB(double, exp, (double x), (x))
STUB(double, exp2, (double x), (x))
STUB(double, floor, (double x), (x))
STUB(double, log, (double x), (x))
STUB(double, log10, (double x), (x))
STUB(double, log2, (double x), (x))
STUB(double, nearbyint, (double x), (x))
STUB(double, rint, (double x), (x))
STUB(double, round, (double x), (x))
STUB(double, sin, (double x), (x))
STUB(double, sqrt, (double x), (x))
STUB(double, trunc, (double x), (x))
STUB(long double, acoshl, (long double x), (x))
STUB(long double, acosl, (long double x), (x))
STUB(long double, asinhl, (long double x), (x))
STUB(long double, asinl, (long double x), (x))
STUB(long double, atanhl, (long double x), (x))
STUB(long double, atanl, (long double x), (x))
STUB(long double, cbrtl, (long double x), (x))
STUB(long double, ceill, (long double x), (x))
STUB(long double, cosl, (long double x), (x))
STUB(long double, coshl, (long double x), (x))
STUB(long double, erfcl, (long double x), (x))
STUB(long double, erfl, (long double x), (x))
STUB(long double, exp2l, (long double x), (x))
STUB(long double, expl, (long double x), (x))
STUB(long double, expm1l, (long double x), (x))
STUB(long double, floorl, (long double x), (x))
STUB(long double, log10l, (long double x), (x))
STUB(long double, log1pl, (long double x), (x))
STUB(long double, log2l, (long double x), (x))
STUB(long double, logbl, (long double x), (x))
STUB(long double, logl, (long double x), (x))
STUB(long double, nearbyintl, (long double x), (x))
STUB(long double, rintl, (long double x), (x))
STUB(long double, roundl, (long double x), (x))
STUB(long double, sinl, (long double x), (x))
STUB(long double, sinhl, (long double x), (x))
STUB(long double, sqrtl, (long double x), (x))
STUB(long double, tanl, (long double x), (x))
STUB(long double, tanhl, (long double x), (x))
STUB(long double, tgammal, (long double x), (x))
STUB(long double, truncl, (long double x), (x))
STUB(float, atan2f, (float x, float y), (x, y))
STUB(float, fdimf, (float x, float y), (x, y))
STUB(float, fmodf, (float x, float y), (x, y))
STUB(float, hypotf, (float x, float y), (x, y))
STUB(float, nextafterf, (float x, float y), (x, y))
STUB(float, powf, (float x, float y), (x, y))
STUB(float, remainderf, (float x, float y), (x, y))
STUB(double, fmod, (double x, double y), (x, y))
STUB(double, remainder, (double x, double y), (x, y))
STUB(long double, atan2l, (long double x, long double y), (x, y))
STUB(long double, fdiml, (long double x, long double y), (x, y))
STUB(long double, fmaxl, (long double x, long double y), (x, y))
STUB(long double, fminl, (long double x, long double y), (x, y))
STUB(long double, fmodl, (long double x, long double y), (x, y))
STUB(long double, hypotl, (long double x, long double y), (x, y))
STUB(long double, nextafterl, (long double x, long double y), (x, y))
STUB(long double, powl, (long double x, long double y), (x, y))
STUB(long double, remainderl, (long double x, long double y), (x, y))
STUB(float, fmaf, (float x, float y, float z), (x, y, z))
STUB(double, fma, (double x, double y, double z), (x, y, z))
STUB(long double, fmal, (long double x, long double y, long double z), (x, y, z))
STUB(float, remquof, (float x, float y, int *q), (x, y, q))
STUB(double, remquo, (double x, double y, int *q), (x, y, q))
STUB(long double, remquol, (long double x, long double y, int *q), (x, y, q))
STUB(float, lgammaf_r, (float x, int *sign), (x, sign))
STUB(double, lgamma_r, (double x, int *sign), (x, sign))
STUB(long double, lgammal_r, (long double x, int *sign), (x, sign))
STUB(double, jn, (int n, double x), (n, x))
STUB(double, yn, (int n, double x), (n, x))
STUB(float, nanf, (const char *tag), (tag))
STUB(long double, nanl, (const char *tag), (tag))

#endif
