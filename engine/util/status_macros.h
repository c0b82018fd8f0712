#pragma once

// absl 20220623 has no public RETURN_IF_ERROR / ASSIGN_OR_RETURN; these two keep
// error propagation across module boundaries one line long.

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define DS_CONCAT_INNER(a, b) a##b
#define DS_CONCAT(a, b) DS_CONCAT_INNER(a, b)

#define DS_RETURN_IF_ERROR(expr)                  \
  do {                                            \
    ::absl::Status ds_status_ = (expr);           \
    if (!ds_status_.ok()) return ds_status_;      \
  } while (0)

// The extra NAMED step turns the generated name into one identifier before it is used
// three times: GCC re-reads __LINE__ per use when a call spans several lines.
#define DS_ASSIGN_OR_RETURN(lhs, expr) \
  DS_ASSIGN_OR_RETURN_NAMED(DS_CONCAT(ds_statusor_, __LINE__), lhs, expr)
#define DS_ASSIGN_OR_RETURN_NAMED(statusor, lhs, expr) DS_ASSIGN_OR_RETURN_IMPL(statusor, lhs, expr)

#define DS_ASSIGN_OR_RETURN_IMPL(statusor, lhs, expr) \
  auto statusor = (expr);                             \
  if (!statusor.ok()) return statusor.status();       \
  lhs = std::move(statusor).value()
