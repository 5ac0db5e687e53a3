/* tickwire._hotpath: the stream engine's per-frame and per-event steps in C.
 *
 * The engine's shape stays in Python (tickwire.stream): these are its three innermost loops, each
 * doing exactly what the Python code next to it does, for the common case only, and handing every
 * other case back to that Python code. tickwire.speedups decides whether they are used.
 *
 * FrameReader(slow, session, queue, metrics, frame_type, probe, max_size, tapless)
 *   The driver's picows ``on_ws_frame``, called with (transport, frame). A complete TEXT or BINARY
 *   frame no longer than max_size, while the session passes data through and no tap is set, whose
 *   payload does not contain ``probe`` (the bytes every control frame has) is copied to bytes and
 *   queued raw, exactly as EventQueue.put_frame does; every other frame goes to ``slow(transport,
 *   frame)``. It reads picows' WSFrame fields from its C struct: tickwire.speedups checks that
 *   layout against the Python attributes before it lets a FrameReader be made (frame_fields).
 *
 * Flatten(source, depth)
 *   An async iterator over ``source`` (an async iterator of lists of lists: the drain loop's
 *   wake-ups): depth 2 yields each event of each batch, depth 1 each batch. An item that is
 *   buffered is returned without suspending and without a generator step (am_send returns it at
 *   once); only an empty buffer awaits the source.
 *
 * dispatch_single(batches, single, b, e[, first]) -> None | (b, e, what)
 *   Calls ``single[type(ev)](ev)`` (``(first, ev)`` when ``first`` is given) for each event
 *   from batches[b][e] on while the event's type has one plain handler and the call returns None.
 *   It stops at the first event it cannot finish and says where and why: ``what`` is None (no single handler: the caller dispatches it), the
 *   Exception the handler raised, or the value it returned (an awaitable to await). The caller
 *   goes on from (b, e + 1). An exception that is not an Exception (a cancel) propagates.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdint.h>
#include <string.h>

static PyObject *str_passthrough;
static PyObject *str_wake;
static PyObject *str_overflow;
static PyObject *str_anext;
static PyObject *str_throw;
static PyObject *str_close;
static PyObject *str_aclose;

/* picows 2.x WSFrame (picows.pxd): the fields after the Cython vtable pointer. */
typedef struct {
    PyObject_HEAD
    void *vtab;
    PyObject *payload_obj;
    char *payload_ptr;
    Py_ssize_t payload_size;
    Py_ssize_t tail_size;
    int msg_type; /* a Cython cpdef enum: a C enum */
    uint8_t fin;
    uint8_t rsv1;
    uint8_t rsv2;
    uint8_t rsv3;
    uint8_t last_in_buffer;
} PwFrame;

enum { WS_TEXT = 1, WS_BINARY = 2 };

/* Whether `type` is picows' WSFrame of the struct above (its size and its name): a struct read from
 * any other object would be garbage. */
static int is_frame_type(PyTypeObject *type) {
    return type->tp_basicsize == (Py_ssize_t)sizeof(PwFrame) && strcmp(type->tp_name, "picows.picows.WSFrame") == 0;
}

/* The value of the StopIteration being raised (a new reference), with public API only. */
static int fetch_stop_value(PyObject **out) {
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    PyObject *v = value != NULL ? PyObject_GetAttrString(value, "value") : Py_NewRef(Py_None);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    if (v == NULL) return -1;
    *out = v;
    return 0;
}

/* The slot of a __slots__ attribute of `type` (its member descriptor's offset), or -1. */
static Py_ssize_t slot_offset(PyTypeObject *type, const char *name) {
    PyObject *descr = PyObject_GetAttrString((PyObject *)type, name);
    if (descr == NULL) {
        PyErr_Format(PyExc_TypeError, "%s has no %s slot", type->tp_name, name);
        return -1;
    }
    Py_ssize_t off = -1;
    if (Py_IS_TYPE(descr, &PyMemberDescr_Type)) {
        PyMemberDef *m = ((PyMemberDescrObject *)descr)->d_member;
        if (m->type == T_OBJECT_EX || m->type == T_OBJECT) off = m->offset;
    }
    Py_DECREF(descr);
    if (off < 0) PyErr_Format(PyExc_TypeError, "%s.%s is not a slot", type->tp_name, name);
    return off;
}

#define SLOT(obj, off) (*(PyObject **)((char *)(obj) + (off)))

/* obj.<slot> += n for an int slot. */
static int slot_add(PyObject *obj, Py_ssize_t off, Py_ssize_t n) {
    PyObject *old = SLOT(obj, off);
    if (old == NULL || !PyLong_CheckExact(old)) {
        PyErr_SetString(PyExc_TypeError, "counter slot is not an int");
        return -1;
    }
    Py_ssize_t v = PyLong_AsSsize_t(old);
    if (v == -1 && PyErr_Occurred()) return -1;
    PyObject *now = PyLong_FromSsize_t(v + n);
    if (now == NULL) return -1;
    SLOT(obj, off) = now;
    Py_DECREF(old);
    return 0;
}

/* ------------------------------------------------------------------------------ FrameReader */

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject *slow;
    PyObject *session;
    PyObject *queue;
    PyObject *items;  /* queue._items, a deque */
    PyObject *append; /* its bound append */
    PyObject *metrics;
    PyTypeObject *frame_type;
    PyObject *probe; /* bytes */
    Py_ssize_t max_size;
    Py_ssize_t maxsize;   /* queue.maxsize */
    Py_ssize_t max_bytes; /* queue.max_bytes */
    Py_ssize_t off_qbytes, off_waiter, off_paused, off_frames, off_mbytes;
    int tapless;
    Py_ssize_t fast; /* frames this reader queued itself */
} FrameReader;

static int reader_traverse(FrameReader *self, visitproc visit, void *arg) {
    Py_VISIT(self->slow);
    Py_VISIT(self->session);
    Py_VISIT(self->queue);
    Py_VISIT(self->items);
    Py_VISIT(self->append);
    Py_VISIT(self->metrics);
    Py_VISIT(self->frame_type);
    Py_VISIT(self->probe);
    return 0;
}

static int reader_clear(FrameReader *self) {
    Py_CLEAR(self->slow);
    Py_CLEAR(self->session);
    Py_CLEAR(self->queue);
    Py_CLEAR(self->items);
    Py_CLEAR(self->append);
    Py_CLEAR(self->metrics);
    Py_CLEAR(self->frame_type);
    Py_CLEAR(self->probe);
    return 0;
}

static void reader_dealloc(FrameReader *self) {
    PyObject_GC_UnTrack(self);
    reader_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int contains(const char *hay, Py_ssize_t n, PyObject *probe) {
    Py_ssize_t m = PyBytes_GET_SIZE(probe);
    const char *p = PyBytes_AS_STRING(probe);
    if (m == 0) return 1;
    if (m == 1) return memchr(hay, p[0], (size_t)n) != NULL;
    return memmem(hay, (size_t)n, p, (size_t)m) != NULL;
}

static PyObject *reader_call(PyObject *self_, PyObject *const *args, size_t nargsf, PyObject *kwnames) {
    FrameReader *self = (FrameReader *)self_;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (nargs != 2 || (kwnames != NULL && PyTuple_GET_SIZE(kwnames))) {
        PyErr_SetString(PyExc_TypeError, "FrameReader takes (transport, frame)");
        return NULL;
    }
    PyObject *frame = args[1];
    if (!self->tapless || Py_TYPE(frame) != self->frame_type) goto slow;
    PwFrame *f = (PwFrame *)frame;
    Py_ssize_t size = f->payload_size;
    if (!f->fin || size > self->max_size || (f->msg_type != WS_TEXT && f->msg_type != WS_BINARY)) goto slow;
    PyObject *through = PyObject_GetAttr(self->session, str_passthrough);
    if (through == NULL) return NULL;
    int on = PyObject_IsTrue(through);
    Py_DECREF(through);
    if (on < 0) return NULL;
    if (!on || contains(f->payload_ptr, size, self->probe)) goto slow;

    PyObject *data = PyBytes_FromStringAndSize(f->payload_ptr, size);
    if (data == NULL) return NULL;
    if (slot_add(self->metrics, self->off_frames, 1) < 0 || slot_add(self->metrics, self->off_mbytes, size) < 0) {
        Py_DECREF(data);
        return NULL;
    }
    PyObject *r = PyObject_CallOneArg(self->append, data);
    Py_DECREF(data);
    if (r == NULL) return NULL;
    Py_DECREF(r);
    self->fast++;
    PyObject *queue = self->queue;
    if (slot_add(queue, self->off_qbytes, size) < 0) return NULL;
    PyObject *waiter = SLOT(queue, self->off_waiter);
    if (waiter != NULL && waiter != Py_None) {
        r = PyObject_CallMethodNoArgs(queue, str_wake);
        if (r == NULL) return NULL;
        Py_DECREF(r);
    }
    Py_ssize_t queued = PyObject_Size(self->items);
    if (queued < 0) return NULL;
    PyObject *held = SLOT(queue, self->off_qbytes);
    Py_ssize_t bytes = PyLong_AsSsize_t(held);
    if (bytes == -1 && PyErr_Occurred()) return NULL;
    if ((queued > self->maxsize || bytes > self->max_bytes) && SLOT(queue, self->off_paused) != Py_True) {
        r = PyObject_CallMethodNoArgs(queue, str_overflow);
        if (r == NULL) return NULL;
        Py_DECREF(r);
    }
    Py_RETURN_NONE;

slow:
    return PyObject_Vectorcall(self->slow, args, nargsf, kwnames);
}

static PyObject *reader_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    static char *names[] = {"slow", "session", "queue", "metrics", "frame_type", "probe", "max_size",
                            "tapless", NULL};
    PyObject *slow, *session, *queue, *metrics, *frame_type, *probe;
    Py_ssize_t max_size;
    int tapless;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOOO!O!np:FrameReader", names, &slow, &session, &queue,
                                     &metrics, &PyType_Type, &frame_type, &PyBytes_Type, &probe, &max_size,
                                     &tapless))
        return NULL;
    if (!is_frame_type((PyTypeObject *)frame_type)) {
        PyErr_SetString(PyExc_TypeError, "frame_type is not picows' WSFrame of the layout this was built for");
        return NULL;
    }
    PyTypeObject *qt = Py_TYPE(queue), *mt = Py_TYPE(metrics);
    Py_ssize_t off_items, off_qbytes, off_waiter, off_paused, off_maxsize, off_max_bytes, off_frames, off_mbytes;
    if ((off_items = slot_offset(qt, "_items")) < 0 || (off_qbytes = slot_offset(qt, "bytes")) < 0 ||
        (off_waiter = slot_offset(qt, "_waiter")) < 0 || (off_paused = slot_offset(qt, "_paused")) < 0 ||
        (off_maxsize = slot_offset(qt, "maxsize")) < 0 || (off_max_bytes = slot_offset(qt, "max_bytes")) < 0 ||
        (off_frames = slot_offset(mt, "frames")) < 0 || (off_mbytes = slot_offset(mt, "bytes")) < 0)
        return NULL;
    PyObject *items = SLOT(queue, off_items);
    PyObject *maxsize = SLOT(queue, off_maxsize), *max_bytes = SLOT(queue, off_max_bytes);
    if (items == NULL || maxsize == NULL || max_bytes == NULL || SLOT(queue, off_qbytes) == NULL ||
        SLOT(metrics, off_frames) == NULL || SLOT(metrics, off_mbytes) == NULL) {
        PyErr_SetString(PyExc_TypeError, "queue or metrics not initialised");
        return NULL;
    }
    Py_ssize_t maxsize_v = PyLong_AsSsize_t(maxsize), max_bytes_v = PyLong_AsSsize_t(max_bytes);
    if (PyErr_Occurred()) return NULL;
    PyObject *append = PyObject_GetAttrString(items, "append");
    if (append == NULL) return NULL;
    FrameReader *self = (FrameReader *)type->tp_alloc(type, 0);
    if (self == NULL) {
        Py_DECREF(append);
        return NULL;
    }
    self->vectorcall = reader_call;
    self->slow = Py_NewRef(slow);
    self->session = Py_NewRef(session);
    self->queue = Py_NewRef(queue);
    self->items = Py_NewRef(items);
    self->append = append;
    self->metrics = Py_NewRef(metrics);
    self->frame_type = (PyTypeObject *)Py_NewRef(frame_type);
    self->probe = Py_NewRef(probe);
    self->max_size = max_size;
    self->maxsize = maxsize_v;
    self->max_bytes = max_bytes_v;
    self->off_qbytes = off_qbytes;
    self->off_waiter = off_waiter;
    self->off_paused = off_paused;
    self->off_frames = off_frames;
    self->off_mbytes = off_mbytes;
    self->tapless = tapless;
    self->fast = 0;
    return (PyObject *)self;
}

static PyMemberDef reader_members[] = {
    {"fast", T_PYSSIZET, offsetof(FrameReader, fast), READONLY, "frames this reader queued itself"},
    {NULL},
};

static PyTypeObject FrameReaderType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "tickwire._hotpath.FrameReader",
    .tp_basicsize = sizeof(FrameReader),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "picows on_ws_frame: complete data frames queued raw in C, every other frame to slow()",
    .tp_new = reader_new,
    .tp_dealloc = (destructor)reader_dealloc,
    .tp_traverse = (traverseproc)reader_traverse,
    .tp_clear = (inquiry)reader_clear,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(FrameReader, vectorcall),
    .tp_members = reader_members,
};

/* frame_fields(frame) -> (payload bytes, msg_type int, fin int): read from the C struct, for the
 * layout check in tickwire.speedups. */
static PyObject *frame_fields(PyObject *mod, PyObject *frame) {
    if (!is_frame_type(Py_TYPE(frame))) {
        PyErr_SetString(PyExc_TypeError, "not a picows WSFrame of the expected size");
        return NULL;
    }
    PwFrame *f = (PwFrame *)frame;
    if (f->payload_size < 0 || (f->payload_size > 0 && f->payload_ptr == NULL)) {
        PyErr_SetString(PyExc_ValueError, "implausible frame fields");
        return NULL;
    }
    return Py_BuildValue("(y#ii)", f->payload_ptr, f->payload_size, f->msg_type, (int)f->fin);
}

/* --------------------------------------------------------------------------------- Flatten */

typedef struct {
    PyObject_HEAD
    PyObject *source;  /* async iterator of list[list] */
    PyObject *batches; /* the wake-up being served, or NULL */
    PyObject *batch;   /* its current batch (depth 2), or NULL */
    Py_ssize_t bi, ei;
    PyObject *pending; /* the source's __anext__() awaitable in progress, or NULL */
    int depth;
} Flatten;

static int flat_traverse(Flatten *self, visitproc visit, void *arg) {
    Py_VISIT(self->source);
    Py_VISIT(self->batches);
    Py_VISIT(self->batch);
    Py_VISIT(self->pending);
    return 0;
}

static int flat_clear(Flatten *self) {
    Py_CLEAR(self->source);
    Py_CLEAR(self->batches);
    Py_CLEAR(self->batch);
    Py_CLEAR(self->pending);
    return 0;
}

static void flat_dealloc(Flatten *self) {
    PyObject_GC_UnTrack(self);
    flat_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* The next buffered item (a new reference), or NULL (no error) when the buffer is spent. */
static PyObject *flat_take(Flatten *self) {
    PyObject *batches = self->batches;
    if (batches == NULL) return NULL;
    if (self->depth == 1) {
        if (self->bi < PyList_GET_SIZE(batches)) return Py_NewRef(PyList_GET_ITEM(batches, self->bi++));
        Py_CLEAR(self->batches);
        return NULL;
    }
    for (;;) {
        PyObject *batch = self->batch;
        if (batch != NULL) {
            if (self->ei < PyList_GET_SIZE(batch)) return Py_NewRef(PyList_GET_ITEM(batch, self->ei++));
            Py_CLEAR(self->batch);
        }
        if (self->bi >= PyList_GET_SIZE(batches)) {
            Py_CLEAR(self->batches);
            return NULL;
        }
        batch = PyList_GET_ITEM(batches, self->bi++);
        if (!PyList_Check(batch)) {
            PyErr_SetString(PyExc_TypeError, "a batch is not a list");
            return NULL;
        }
        self->batch = Py_NewRef(batch);
        self->ei = 0;
    }
}

/* A wake-up's batches arrived: serve them. */
static int flat_fill(Flatten *self, PyObject *batches) {
    if (!PyList_Check(batches)) {
        PyErr_SetString(PyExc_TypeError, "the source yielded something other than a list of batches");
        return -1;
    }
    Py_XSETREF(self->batches, Py_NewRef(batches));
    Py_CLEAR(self->batch);
    self->bi = 0;
    self->ei = 0;
    return 0;
}

static int flat_start(Flatten *self) {
    PyObject *aw;
    PyTypeObject *t = Py_TYPE(self->source);
    if (t->tp_as_async != NULL && t->tp_as_async->am_anext != NULL) {
        aw = t->tp_as_async->am_anext(self->source);
    } else {
        aw = PyObject_CallMethodNoArgs(self->source, str_anext);
    }
    if (aw == NULL) return -1;
    PyTypeObject *at = Py_TYPE(aw);
    if (at->tp_as_async != NULL && at->tp_as_async->am_await != NULL && !PyCoro_CheckExact(aw)) {
        PyObject *it = at->tp_as_async->am_await(aw);
        Py_DECREF(aw);
        if (it == NULL) return -1;
        aw = it;
    }
    self->pending = aw;
    return 0;
}

/* One step: PYGEN_RETURN with the next item, PYGEN_NEXT with what the source yields to the loop
 * (a future), or PYGEN_ERROR (StopAsyncIteration at the end). `thrown` (if not NULL) is an
 * exception to throw into the source's pending step instead of sending `arg`. */
static PySendResult flat_step(Flatten *self, PyObject *arg, PyObject *thrown, PyObject **result) {
    for (;;) {
        if (self->pending == NULL) {
            if (thrown != NULL) {
                PyErr_SetObject((PyObject *)Py_TYPE(thrown), thrown);
                return PYGEN_ERROR;
            }
            PyObject *item = flat_take(self);
            if (item != NULL) {
                *result = item;
                return PYGEN_RETURN;
            }
            if (PyErr_Occurred()) return PYGEN_ERROR;
            if (flat_start(self) < 0) return PYGEN_ERROR;
            arg = Py_None;
        }
        PyObject *res = NULL;
        PySendResult r;
        if (thrown != NULL) {
            res = PyObject_CallMethodOneArg(self->pending, str_throw, thrown);
            thrown = NULL;
            if (res != NULL) {
                r = PYGEN_NEXT;
            } else if (PyErr_ExceptionMatches(PyExc_StopIteration)) {
                if (fetch_stop_value(&res) < 0) {
                    Py_CLEAR(self->pending);
                    return PYGEN_ERROR;
                }
                r = PYGEN_RETURN;
            } else {
                r = PYGEN_ERROR;
            }
        } else {
            r = PyIter_Send(self->pending, arg, &res);
        }
        if (r == PYGEN_NEXT) {
            *result = res;
            return PYGEN_NEXT;
        }
        Py_CLEAR(self->pending);
        if (r == PYGEN_ERROR) return PYGEN_ERROR;
        int bad = flat_fill(self, res);
        Py_DECREF(res);
        if (bad) return PYGEN_ERROR;
        arg = Py_None;
    }
}

static PySendResult flat_am_send(PyObject *self, PyObject *arg, PyObject **result) {
    return flat_step((Flatten *)self, arg, NULL, result);
}

/* The iterator protocol's form of a step: a return becomes StopIteration(value). */
static PyObject *flat_finish(PySendResult r, PyObject *res) {
    if (r == PYGEN_NEXT) return res;
    if (r == PYGEN_ERROR) return NULL;
    PyObject *stop = PyObject_CallOneArg(PyExc_StopIteration, res);
    Py_DECREF(res);
    if (stop == NULL) return NULL;
    PyErr_SetObject(PyExc_StopIteration, stop);
    Py_DECREF(stop);
    return NULL;
}

static PyObject *flat_iternext(PyObject *self) {
    PyObject *res = NULL;
    PySendResult r = flat_step((Flatten *)self, Py_None, NULL, &res);
    return flat_finish(r, res);
}

static PyObject *flat_send(PyObject *self, PyObject *arg) {
    PyObject *res = NULL;
    PySendResult r = flat_step((Flatten *)self, arg, NULL, &res);
    return flat_finish(r, res);
}

static PyObject *flat_throw(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs < 1 || nargs > 3) {
        PyErr_SetString(PyExc_TypeError, "throw expects 1 to 3 arguments");
        return NULL;
    }
    PyObject *exc = args[0];
    PyObject *made = NULL;
    if (PyType_Check(exc) && PyType_IsSubtype((PyTypeObject *)exc, (PyTypeObject *)PyExc_BaseException)) {
        PyObject *val = nargs > 1 ? args[1] : Py_None;
        if (PyExceptionInstance_Check(val)) {
            made = Py_NewRef(val);
        } else {
            made = val == Py_None ? PyObject_CallNoArgs(exc) : PyObject_CallOneArg(exc, val);
            if (made == NULL) return NULL;
        }
    } else if (PyExceptionInstance_Check(exc)) {
        made = Py_NewRef(exc);
    } else {
        PyErr_SetString(PyExc_TypeError, "exceptions must derive from BaseException");
        return NULL;
    }
    PyObject *res = NULL;
    PySendResult r = flat_step((Flatten *)self, Py_None, made, &res);
    Py_DECREF(made);
    return flat_finish(r, res);
}

static PyObject *flat_close(PyObject *self_, PyObject *unused) {
    Flatten *self = (Flatten *)self_;
    PyObject *pending = self->pending;
    self->pending = NULL;
    if (pending != NULL) {
        PyObject *r = PyObject_CallMethodNoArgs(pending, str_close);
        Py_DECREF(pending);
        if (r == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_AttributeError)) return NULL;
            PyErr_Clear();
        } else {
            Py_DECREF(r);
        }
    }
    Py_RETURN_NONE;
}

static PyObject *flat_aclose(PyObject *self_, PyObject *unused) {
    Flatten *self = (Flatten *)self_;
    Py_CLEAR(self->batches);
    Py_CLEAR(self->batch);
    PyObject *r = flat_close(self_, NULL);
    if (r == NULL) return NULL;
    Py_DECREF(r);
    return PyObject_CallMethodNoArgs(self->source, str_aclose);
}

static PyObject *flat_self(PyObject *self) { return Py_NewRef(self); }

static PyObject *flat_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    static char *names[] = {"source", "depth", NULL};
    PyObject *source;
    int depth = 2;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|i:Flatten", names, &source, &depth)) return NULL;
    if (depth != 1 && depth != 2) {
        PyErr_SetString(PyExc_ValueError, "depth is 1 (batches) or 2 (events)");
        return NULL;
    }
    Flatten *self = (Flatten *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    self->source = Py_NewRef(source);
    self->depth = depth;
    return (PyObject *)self;
}

static PyAsyncMethods flat_async = {
    .am_await = flat_self,
    .am_aiter = flat_self,
    .am_anext = flat_self,
    .am_send = flat_am_send,
};

static PyMethodDef flat_methods[] = {
    {"send", (PyCFunction)flat_send, METH_O, NULL},
    {"throw", (PyCFunction)(void (*)(void))flat_throw, METH_FASTCALL, NULL},
    {"close", (PyCFunction)flat_close, METH_NOARGS, NULL},
    {"aclose", (PyCFunction)flat_aclose, METH_NOARGS, "close the source (an awaitable)"},
    {NULL},
};

static PyTypeObject FlattenType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "tickwire._hotpath.Flatten",
    .tp_basicsize = sizeof(Flatten),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "async iterator over the items of the lists of lists an async iterator yields",
    .tp_new = flat_new,
    .tp_dealloc = (destructor)flat_dealloc,
    .tp_traverse = (traverseproc)flat_traverse,
    .tp_clear = (inquiry)flat_clear,
    .tp_as_async = &flat_async,
    .tp_iter = flat_self,
    .tp_iternext = flat_iternext,
    .tp_methods = flat_methods,
};

/* -------------------------------------------------------------------------- dispatch_single */

/* The handler of an event's type. The last type's handler is kept while the dict is unchanged
 * (its version tag, CPython < 3.12): a stream is mostly one type, and a dict lookup with its
 * hash costs about a tenth of the handler call. A change of the dict (a handler added, or the
 * dict emptied to stop from another thread) is seen at the very next event. */
typedef struct {
    PyTypeObject *type; /* borrowed: only compared */
    PyObject *fn;       /* owned */
#if PY_VERSION_HEX < 0x030C0000
    uint64_t version;
#endif
} LastHandler;

static PyObject *handler_of(PyObject *single, PyTypeObject *type, LastHandler *last) {
#if PY_VERSION_HEX < 0x030C0000
    uint64_t version = ((PyDictObject *)single)->ma_version_tag;
    if (last->fn != NULL && last->type == type && last->version == version) return last->fn;
#endif
    PyObject *fn = PyDict_GetItemWithError(single, (PyObject *)type);
    if (fn == NULL) return NULL;
    Py_INCREF(fn);
    Py_XSETREF(last->fn, fn);
    last->type = type;
#if PY_VERSION_HEX < 0x030C0000
    last->version = version;
#endif
    return fn;
}

static PyObject *dispatch_single(PyObject *mod, PyObject *const *args, Py_ssize_t nargs) {
    if ((nargs != 4 && nargs != 5) || !PyList_Check(args[0]) || !PyDict_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError,
                        "dispatch_single(batches: list, single: dict, b: int, e: int[, first])");
        return NULL;
    }
    PyObject *batches = args[0], *single = args[1];
    PyObject *first = nargs == 5 ? args[4] : NULL;
    Py_ssize_t b = PyLong_AsSsize_t(args[2]), e = PyLong_AsSsize_t(args[3]);
    if (PyErr_Occurred()) return NULL;
    LastHandler last = {NULL, NULL};
    PyObject *result = NULL;
    for (; b < PyList_GET_SIZE(batches); b++, e = 0) {
        PyObject *batch = PyList_GET_ITEM(batches, b);
        if (!PyList_Check(batch)) {
            PyErr_SetString(PyExc_TypeError, "a batch is not a list");
            goto done;
        }
        Py_INCREF(batch); /* a handler may change the lists */
        for (; e < PyList_GET_SIZE(batch); e++) {
            PyObject *ev = PyList_GET_ITEM(batch, e);
            PyObject *fn = handler_of(single, Py_TYPE(ev), &last);
            if (fn == NULL) {
                Py_DECREF(batch);
                if (!PyErr_Occurred()) result = Py_BuildValue("(nnO)", b, e, Py_None);
                goto done;
            }
            Py_INCREF(ev);
            Py_INCREF(fn);
            PyObject *res;
            if (first == NULL) {
                res = PyObject_CallOneArg(fn, ev);
            } else {
                PyObject *call[3] = {NULL, first, ev};
                res = PyObject_Vectorcall(fn, call + 1, 2 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
            }
            Py_DECREF(fn);
            Py_DECREF(ev);
            if (res == NULL) {
                Py_DECREF(batch);
                if (!PyErr_ExceptionMatches(PyExc_Exception)) goto done;
                PyObject *type, *value, *tb;
                PyErr_Fetch(&type, &value, &tb);
                PyErr_NormalizeException(&type, &value, &tb);
                if (tb != NULL) PyException_SetTraceback(value, tb);
                Py_XDECREF(type);
                Py_XDECREF(tb);
                result = Py_BuildValue("(nnN)", b, e, value);
                goto done;
            }
            if (res != Py_None) {
                Py_DECREF(batch);
                result = Py_BuildValue("(nnN)", b, e, res);
                goto done;
            }
            Py_DECREF(res);
        }
        Py_DECREF(batch);
    }
    result = Py_NewRef(Py_None);
done:
    Py_XDECREF(last.fn);
    return result;
}

static PyMethodDef methods[] = {
    {"frame_fields", frame_fields, METH_O, "(payload, msg_type, fin) of a picows WSFrame, from its struct"},
    {"dispatch_single", (PyCFunction)(void (*)(void))dispatch_single, METH_FASTCALL,
     "call the one plain handler of each event's type until one cannot be finished here"},
    {NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "tickwire._hotpath", "The stream engine's innermost steps in C.", -1, methods,
};

PyMODINIT_FUNC PyInit__hotpath(void) {
    if (PyType_Ready(&FrameReaderType) < 0 || PyType_Ready(&FlattenType) < 0) return NULL;
#define INTERN(var, text) \
    if ((var = PyUnicode_InternFromString(text)) == NULL) return NULL
    INTERN(str_passthrough, "passthrough");
    INTERN(str_wake, "_wake");
    INTERN(str_overflow, "_overflow");
    INTERN(str_anext, "__anext__");
    INTERN(str_throw, "throw");
    INTERN(str_close, "close");
    INTERN(str_aclose, "aclose");
#undef INTERN
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    if (PyModule_AddObjectRef(m, "FrameReader", (PyObject *)&FrameReaderType) < 0 ||
        PyModule_AddObjectRef(m, "Flatten", (PyObject *)&FlattenType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
