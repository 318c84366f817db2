// The python3 runtime: CPython 3.11 embedded from Debian's libpython3.11.
// The Lambda contract itself lives in agent/python/sprout_runtime.py; this
// file moves values between protobuf and Python and keeps the interpreter
// fork-safe (PyOS_BeforeFork / AfterFork around every fork).
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <unistd.h>

#include <string_view>

#include "agent/runtime.h"

namespace sprout::agent {

extern const char kPythonGlueSource[];

namespace {

// The current Python exception as "Type: message", cleared.
std::string fetch_python_error() {
  PyObject *type, *value, *trace;
  PyErr_Fetch(&type, &value, &trace);
  PyErr_NormalizeException(&type, &value, &trace);
  std::string text = "unknown Python error";
  if (value) {
    PyObject* str = PyObject_Str(value);
    const char* name = type ? reinterpret_cast<PyTypeObject*>(type)->tp_name : "Exception";
    text = std::string(name) + ": " + (str ? PyUnicode_AsUTF8(str) : "?");
    Py_XDECREF(str);
  }
  Py_XDECREF(type);
  Py_XDECREF(value);
  Py_XDECREF(trace);
  return text;
}

std::string as_string(PyObject* object) {
  if (!object || !PyUnicode_Check(object)) return {};
  Py_ssize_t size = 0;
  const char* data = PyUnicode_AsUTF8AndSize(object, &size);
  return data ? std::string(data, size) : std::string();
}

template <typename Repeated>
void copy_string_list(PyObject* list, Repeated* out) {
  if (!list || !PyList_Check(list)) return;
  for (Py_ssize_t i = 0; i < PyList_Size(list); ++i)
    *out->Add() = as_string(PyList_GetItem(list, i));
}

class PythonRuntime final : public Runtime {
 public:
  Result<void> initialize(const std::vector<std::string>& pre_imports) override {
    PyConfig config;
    // Isolated: no PYTHON* environment variables, no user site, no cwd on
    // sys.path. The site module still runs, so Debian's dist-packages
    // (python3-pil, ...) are importable.
    PyConfig_InitIsolatedConfig(&config);
    config.install_signal_handlers = 0;
    config.write_bytecode = 0;  // code and runtime are read-only in sandboxes
    config.buffered_stdio = 1;
    PyConfig_SetString(&config, &config.program_name, L"/usr/bin/python3.11");
    PyStatus status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status)) {
      return plain_error("initialize CPython", status.err_msg ? status.err_msg : "unknown");
    }
    PyObject* code = Py_CompileString(kPythonGlueSource, "sprout_runtime.py", Py_file_input);
    if (!code) return plain_error("compile sprout_runtime.py", fetch_python_error());
    glue_ = PyImport_ExecCodeModule("sprout_runtime", code);
    Py_DECREF(code);
    if (!glue_) return plain_error("load sprout_runtime.py", fetch_python_error());

    PyObject* names = PyList_New(0);
    for (const auto& name : pre_imports) {
      PyObject* item = PyUnicode_FromString(name.c_str());
      PyList_Append(names, item);
      Py_DECREF(item);
    }
    PyObject* result = PyObject_CallMethod(glue_, "initialize", "(O)", names);
    Py_DECREF(names);
    if (!result) return plain_error("pre-import", fetch_python_error());
    Py_DECREF(result);
    return {};
  }

  InitResult load(const LoadFunction& load) override {
    PyObject* function = Py_BuildValue(
        "{s:s#,s:s#,s:I}", "name", load.function().name().data(), load.function().name().size(),
        "version", load.function().version().data(), load.function().version().size(),
        "memory_limit_mb", load.function().memory_limit_mb());
    // os.environ was read when the zygote started; the snapshot has since
    // set the function's environment (apply_environment): hand over all of it.
    PyObject* env = PyDict_New();
    for (char** entry = environ; *entry; ++entry) {
      std::string_view text(*entry);
      auto eq = text.find('=');
      if (eq == std::string_view::npos) continue;
      PyObject* value = PyUnicode_FromStringAndSize(text.data() + eq + 1, text.size() - eq - 1);
      PyDict_SetItemString(env, std::string(text.substr(0, eq)).c_str(), value);
      Py_DECREF(value);
    }
    PyObject* pre_imports = PyList_New(0);
    for (const auto& name : load.pre_imports()) {
      PyObject* item = PyUnicode_FromStringAndSize(name.data(), name.size());
      PyList_Append(pre_imports, item);
      Py_DECREF(item);
    }
    PyObject* result = PyObject_CallMethod(glue_, "load", "(s#OOO)", load.handler().data(),
                                           load.handler().size(), function, env, pre_imports);
    Py_DECREF(function);
    Py_DECREF(env);
    Py_DECREF(pre_imports);
    if (!result) return init_error("Runtime.Unknown", fetch_python_error());
    InitResult init;
    init.set_ok(PyObject_IsTrue(PyTuple_GetItem(result, 0)));
    init.set_error_type(as_string(PyTuple_GetItem(result, 1)));
    init.set_error_message(as_string(PyTuple_GetItem(result, 2)));
    copy_string_list(PyTuple_GetItem(result, 3), init.mutable_stack_trace());
    Py_DECREF(result);
    return init;
  }

  void before_fork() override { PyOS_BeforeFork(); }
  void after_fork_parent() override { PyOS_AfterFork_Parent(); }

  // Runs the at-fork hooks modules registered; among them the random
  // module's, which reseeds it: clones of one snapshot share its memory and
  // must each draw their own numbers.
  void after_fork_child() override { PyOS_AfterFork_Child(); }

  void warm_up() override {
    PyObject* result = PyObject_CallMethod(glue_, "warm_up", nullptr);
    if (!result) PyErr_Clear();
    Py_XDECREF(result);
  }

  InvokeReply invoke(const InvokeRequest& request) override {
    PyObject* result = PyObject_CallMethod(
        glue_, "invoke", "(y#s#K)", request.payload().data(), request.payload().size(),
        request.request_id().data(), request.request_id().size(),
        static_cast<unsigned long long>(request.deadline_monotonic_ns()));
    if (!result) return function_error("Runtime.Unknown", fetch_python_error());
    InvokeReply reply;
    bool ok = PyObject_IsTrue(PyTuple_GetItem(result, 0));
    reply.set_kind(ok ? InvokeReply::OK : InvokeReply::FUNCTION_ERROR);
    PyObject* body = PyTuple_GetItem(result, 1);
    if (PyBytes_Check(body)) reply.set_result(PyBytes_AsString(body), PyBytes_Size(body));
    reply.set_error_type(as_string(PyTuple_GetItem(result, 2)));
    reply.set_error_message(as_string(PyTuple_GetItem(result, 3)));
    copy_string_list(PyTuple_GetItem(result, 4), reply.mutable_stack_trace());
    Py_DECREF(result);
    return reply;
  }

  void flush_output() override {
    PyObject* result = PyObject_CallMethod(glue_, "flush", nullptr);
    if (!result) PyErr_Clear();
    Py_XDECREF(result);
  }

 private:
  PyObject* glue_ = nullptr;
};

}  // namespace

std::unique_ptr<Runtime> make_python_runtime() { return std::make_unique<PythonRuntime>(); }

}  // namespace sprout::agent
