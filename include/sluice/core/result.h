// Result<T>: a value of type T, or the Status that explains why there is none.
//
//   Result<Shard> r = graph.find(id);
//   if (!r.ok()) return r.status();
//   use(*r);
//
// Reading the value of a failed Result is a bug: it aborts with the error.
#ifndef SLUICE_CORE_RESULT_H_
#define SLUICE_CORE_RESULT_H_

#include <cstdio>
#include <cstdlib>
#include <type_traits>
#include <utility>
#include <variant>

#include "sluice/core/status.h"

namespace sluice {

namespace result_internal {
[[noreturn]] void die_on_bad_access(const Status& status);
}  // namespace result_internal

template <class T>
class [[nodiscard]] Result {
  static_assert(!std::is_same_v<std::remove_cv_t<T>, Status>, "Result<Status> makes no sense");
  static_assert(!std::is_reference_v<T>, "Result<T&> is not supported; use Result<T*>");

 public:
  using value_type = T;

  // An Internal error: what an unassigned Result holds (Asio's co_spawn
  // needs default-constructible results).
  Result() : v_(std::in_place_index<0>, Status::internal("Result holds no value yet")) {}

  // A value.
  Result(const T& value) : v_(std::in_place_index<1>, value) {}        // NOLINT: implicit by design
  Result(T&& value) : v_(std::in_place_index<1>, std::move(value)) {}  // NOLINT
  template <class U>
  requires(std::is_constructible_v<T, U&&> && !std::is_same_v<std::decay_t<U>, Status> &&
           !std::is_same_v<std::decay_t<U>, Result> && !std::is_same_v<std::decay_t<U>, T>)
      Result(U&& value)
      : v_(std::in_place_index<1>, std::forward<U>(value)) {}  // NOLINT
  // An error. An OK status here is a bug and becomes an Internal error.
  Result(Status status)  // NOLINT: implicit by design
      : v_(std::in_place_index<0>, status.ok()
                                       ? Status::internal("Result constructed from an OK Status")
                                       : std::move(status)) {}

  bool ok() const { return v_.index() == 1; }
  // OK when there is a value.
  Status status() const { return ok() ? Status() : std::get<0>(v_); }

  T& value() & {
    check();
    return std::get<1>(v_);
  }
  const T& value() const& {
    check();
    return std::get<1>(v_);
  }
  T&& value() && {
    check();
    return std::get<1>(std::move(v_));
  }
  template <class U>
  T value_or(U&& fallback) const& {
    return ok() ? std::get<1>(v_) : static_cast<T>(std::forward<U>(fallback));
  }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  void check() const {
    if (!ok()) result_internal::die_on_bad_access(std::get<0>(v_));
  }
  std::variant<Status, T> v_;
};

}  // namespace sluice

#define SLUICE_RESULT_CONCAT_INNER_(a, b) a##b
#define SLUICE_RESULT_CONCAT_(a, b) SLUICE_RESULT_CONCAT_INNER_(a, b)

// SLUICE_ASSIGN_OR_RETURN(auto shards, client.list_shards(...));
// Declares/assigns `lhs` from a Result, or returns its Status from the enclosing function.
#define SLUICE_ASSIGN_OR_RETURN(lhs, expr) \
  SLUICE_ASSIGN_OR_RETURN_IMPL_(SLUICE_RESULT_CONCAT_(sluice_result_, __LINE__), lhs, expr, return )
// The same, for coroutines.
#define SLUICE_CO_ASSIGN_OR_RETURN(lhs, expr)                                               \
  SLUICE_ASSIGN_OR_RETURN_IMPL_(SLUICE_RESULT_CONCAT_(sluice_result_, __LINE__), lhs, expr, \
                                co_return )

#define SLUICE_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr, ret) \
  auto tmp = (expr);                                       \
  if (!tmp.ok()) ret tmp.status();                         \
  lhs = std::move(tmp).value()

#endif  // SLUICE_CORE_RESULT_H_
