/* tickwire._wiretime: a frame's wire times made Unix-nanosecond ints in one C pass.
 *
 * Decoding a frame with msgspec leaves each event's time as the wire sent it: an RFC 3339 string
 * (JSON) or a msgpack Timestamp extension. msgspec's own datetime stops at microseconds, so the
 * conversion to int ns has to happen after the decode; in Python it costs more than the decode
 * itself (~0.4-0.6 us per event on a slow core). This module does it in C for the strict common
 * forms and stops at the first value it does not take, so the caller's exact Python path
 * (tickwire.alpaca.wire.time_of) handles everything else: what C accepts is a subset of what that
 * path accepts, with the same result (tests/test_wiretime.py checks both on generated values).
 *
 * finish_times(items, ext_type, cond_types) -> int
 *   For each item: its `timestamp` attribute, if a str of the form YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z
 *   (ASCII, a valid date, years 0001-9999, ns within int64) or an `ext_type` instance of code -1
 *   and 4, 8 or 12 bytes (msgpack Timestamp 32/64/96), is replaced by int ns; an int is left as
 *   it is. For items whose exact type is in `cond_types`, `conditions` is made a list (a str s
 *   becomes [s], None becomes []). Returns how many items were finished before the first it
 *   could not take (len(items) when all were).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdint.h>

static PyObject *str_timestamp;  /* interned attribute names */
static PyObject *str_conditions;
static PyObject *str_code;
static PyObject *str_data;

static const int64_t FRACTION_SCALE[10] = {
    1000000000, 100000000, 10000000, 1000000, 100000, 10000, 1000, 100, 10, 1};

static int is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int days_in_month(int64_t y, int m) {
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int digits(const unsigned char *s, int n, int64_t *out) {
    int64_t v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 1;
}

/* An RFC 3339 string of the strict form in Unix ns; NULL (no error set) when not of that form. */
static PyObject *rfc3339_ns(PyObject *text) {
    if (!PyUnicode_IS_COMPACT_ASCII(text)) return NULL;
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    const unsigned char *s = (const unsigned char *)PyUnicode_DATA(text);
    if (n < 20 || n > 30 || s[n - 1] != 'Z') return NULL;
    if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':') return NULL;
    int64_t year, month, day, hour, minute, second, frac = 0;
    if (!digits(s, 4, &year) || !digits(s + 5, 2, &month) || !digits(s + 8, 2, &day) ||
        !digits(s + 11, 2, &hour) || !digits(s + 14, 2, &minute) || !digits(s + 17, 2, &second))
        return NULL;
    if (n > 20) { /* a fraction: "." then 1 to 9 digits before the Z */
        int nd = (int)(n - 21);
        if (s[19] != '.' || nd < 1 || nd > 9 || !digits(s + 20, nd, &frac)) return NULL;
        frac *= FRACTION_SCALE[nd];
    }
    if (year < 1 || month < 1 || month > 12 || day < 1 || day > days_in_month(year, (int)month) ||
        hour > 23 || minute > 59 || second > 59)
        return NULL;
    const int64_t secs =
        days_from_civil(year, (int)month, (int)day) * 86400 + hour * 3600 + minute * 60 + second;
    if (secs > INT64_MAX / 1000000000 - 1 || secs < INT64_MIN / 1000000000 + 1) return NULL;
    return PyLong_FromLongLong(secs * 1000000000 + frac);
}

static uint64_t be_uint(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v = v << 8 | p[i];
    return v;
}

/* A msgpack Timestamp extension (code -1) in Unix ns; NULL when not one. May set an error. */
static PyObject *timestamp_ext_ns(PyObject *ext) {
    PyObject *code = PyObject_GetAttr(ext, str_code);
    if (code == NULL) return NULL;
    long c = PyLong_AsLong(code);
    Py_DECREF(code);
    if (c == -1 && PyErr_Occurred()) return NULL;
    if (c != -1) return NULL;
    PyObject *data = PyObject_GetAttr(ext, str_data);
    if (data == NULL) return NULL;
    PyObject *out = NULL;
    if (PyBytes_CheckExact(data)) {
        const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(data);
        Py_ssize_t n = PyBytes_GET_SIZE(data);
        if (n == 8) { /* timestamp 64: 30-bit ns above 34-bit s */
            uint64_t v = be_uint(p, 8);
            out = PyLong_FromUnsignedLongLong((v & 0x3FFFFFFFFULL) * 1000000000ULL + (v >> 34));
        } else if (n == 4) { /* timestamp 32: seconds */
            out = PyLong_FromUnsignedLongLong(be_uint(p, 4) * 1000000000ULL);
        } else if (n == 12) { /* timestamp 96: 32-bit ns, then signed 64-bit s */
            int64_t secs = (int64_t)be_uint(p + 4, 8);
            int64_t nanos = (int64_t)be_uint(p, 4);
            if (secs <= INT64_MAX / 1000000000 - 5 && secs >= INT64_MIN / 1000000000 + 1)
                out = PyLong_FromLongLong(secs * 1000000000 + nanos);
        }
    }
    Py_DECREF(data);
    return out;
}

/* The address of the object slot behind `item`'s attribute `name` when it is a plain writable
 * member (a msgspec Struct field), else NULL. Writing an int there is what the Struct's own
 * setattr does for an untracked value, without its generic attribute lookup. */
static PyObject **slot_of(PyObject *item, PyObject *name) {
    PyObject *descr = _PyType_Lookup(Py_TYPE(item), name);
    if (descr == NULL || Py_TYPE(descr) != &PyMemberDescr_Type) return NULL;
    PyMemberDef *m = ((PyMemberDescrObject *)descr)->d_member;
    if (m->type != T_OBJECT_EX || (m->flags & READONLY)) return NULL;
    return (PyObject **)((char *)item + m->offset);
}

/* 1: finished, 0: not taken (no error), -1: error. */
static int finish_time(PyObject *item, PyObject *ext_type) {
    PyObject **slot = slot_of(item, str_timestamp);
    PyObject *t = slot != NULL ? *slot : NULL;
    if (t != NULL)
        Py_INCREF(t);
    else {
        slot = NULL;
        t = PyObject_GetAttr(item, str_timestamp);
        if (t == NULL) return -1;
    }
    PyObject *ns = NULL;
    if (PyLong_CheckExact(t)) {
        Py_DECREF(t);
        return 1;
    }
    if (PyUnicode_CheckExact(t))
        ns = rfc3339_ns(t);
    else if ((PyObject *)Py_TYPE(t) == ext_type)
        ns = timestamp_ext_ns(t);
    Py_DECREF(t);
    if (ns == NULL) return PyErr_Occurred() ? -1 : 0;
    if (slot != NULL) { /* an int holds no references: no GC tracking to update */
        PyObject *old = *slot;
        *slot = ns;
        Py_XDECREF(old);
        return 1;
    }
    int rc = PyObject_SetAttr(item, str_timestamp, ns);
    Py_DECREF(ns);
    return rc < 0 ? -1 : 1;
}

static int finish_conditions(PyObject *item) {
    PyObject *c = PyObject_GetAttr(item, str_conditions);
    if (c == NULL) return -1;
    PyObject *as_list = NULL;
    if (PyList_CheckExact(c)) {
        Py_DECREF(c);
        return 1;
    }
    if (c == Py_None)
        as_list = PyList_New(0);
    else if (PyUnicode_CheckExact(c)) {
        as_list = PyList_New(1);
        if (as_list != NULL) {
            Py_INCREF(c);
            PyList_SET_ITEM(as_list, 0, c);
        }
    } else {
        Py_DECREF(c);
        return 0;
    }
    Py_DECREF(c);
    if (as_list == NULL) return -1;
    int rc = PyObject_SetAttr(item, str_conditions, as_list);
    Py_DECREF(as_list);
    return rc < 0 ? -1 : 1;
}

static PyObject *finish_times(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 3 || !PyList_Check(args[0]) || !PyType_Check(args[1]) || !PyTuple_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "finish_times(items: list, ext_type: type, cond_types: tuple)");
        return NULL;
    }
    PyObject *items = args[0], *ext_type = args[1], *cond_types = args[2];
    Py_ssize_t n_cond = PyTuple_GET_SIZE(cond_types);
    Py_ssize_t i = 0;
    for (; i < PyList_GET_SIZE(items); i++) {
        PyObject *item = PyList_GET_ITEM(items, i);
        Py_INCREF(item);
        int rc = finish_time(item, ext_type);
        if (rc == 1) {
            PyObject *cls = (PyObject *)Py_TYPE(item);
            for (Py_ssize_t k = 0; k < n_cond; k++) {
                if (PyTuple_GET_ITEM(cond_types, k) == cls) {
                    rc = finish_conditions(item);
                    break;
                }
            }
        }
        Py_DECREF(item);
        if (rc < 0) return NULL;
        if (rc == 0) break;
    }
    return PyLong_FromSsize_t(i);
}

static PyMethodDef methods[] = {
    {"finish_times", (PyCFunction)(void (*)(void))finish_times, METH_FASTCALL,
     "finish_times(items, ext_type, cond_types) -> int: each item's wire time made int ns (and "
     "conditions a list for cond_types), up to the first value left to the Python path."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "tickwire._wiretime",
    "A frame's wire times made Unix-nanosecond ints in one C pass (see tickwire.speedups).", -1,
    methods,
};

PyMODINIT_FUNC PyInit__wiretime(void) {
    str_timestamp = PyUnicode_InternFromString("timestamp");
    str_conditions = PyUnicode_InternFromString("conditions");
    str_code = PyUnicode_InternFromString("code");
    str_data = PyUnicode_InternFromString("data");
    if (!str_timestamp || !str_conditions || !str_code || !str_data) return NULL;
    return PyModule_Create(&module);
}
