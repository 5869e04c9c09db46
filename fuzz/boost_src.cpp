// Boost.JSON and Boost.URL compiled into the fuzzers with coverage instrumentation, so that
// libFuzzer sees the parsers' branches; the shared libraries' copies are then unused.
#include <boost/json/src.hpp>
#include <boost/url/src.hpp>
