/* One function, answered through the C API; the module links libpython (setup.py). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *
version(PyObject *self, PyObject *unused)
{
    return PyUnicode_FromString(Py_GetVersion());
}

static PyMethodDef methods[] = {
    {"version", version, METH_NOARGS, "The interpreter's version string."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_linked", NULL, -1, methods,
};

PyMODINIT_FUNC
PyInit__linked(void)
{
    return PyModule_Create(&module);
}
