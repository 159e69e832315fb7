// librdkafka (Debian's, built with C11 threads) makes its threads with
// thrd_create() and locks with mtx_lock(); GCC 12's ThreadSanitizer
// intercepts the pthread calls but not these, so a librdkafka thread is
// unknown to it (it crashes at the thread's first intercepted call) and
// librdkafka's locks order nothing. In the TSan build of the Kafka
// concurrency tests, these definitions take the place of glibc's (the
// executable's symbols come first) and forward to the pthread calls TSan
// sees. glibc's C11 types are its pthread types under other names.
// librdkafka's own memory accesses stay uninstrumented: what TSan checks is
// sluice's code on every thread, librdkafka's included.
#if defined(__SANITIZE_THREAD__)

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>

namespace {

static_assert(sizeof(mtx_t) == sizeof(pthread_mutex_t));
static_assert(sizeof(cnd_t) == sizeof(pthread_cond_t));
static_assert(sizeof(once_flag) == sizeof(pthread_once_t));

pthread_mutex_t* pm(mtx_t* m) {
  return reinterpret_cast<pthread_mutex_t*>(m);
}
pthread_cond_t* pc(cnd_t* c) {
  return reinterpret_cast<pthread_cond_t*>(c);
}
int result(int err) {
  switch (err) {
    case 0:
      return thrd_success;
    case EBUSY:
      return thrd_busy;
    case ETIMEDOUT:
      return thrd_timedout;
    case ENOMEM:
    case EAGAIN:
      return thrd_nomem;
    default:
      return thrd_error;
  }
}

struct Start {
  thrd_start_t fn;
  void* arg;
};

void* run(void* p) {
  Start start = *static_cast<Start*>(p);
  free(p);
  return reinterpret_cast<void*>(static_cast<intptr_t>(start.fn(start.arg)));
}

}  // namespace

extern "C" {

int thrd_create(thrd_t* thr, thrd_start_t fn, void* arg) {
  auto* start = static_cast<Start*>(malloc(sizeof(Start)));
  if (!start) return thrd_nomem;
  *start = {fn, arg};
  const int err = pthread_create(thr, nullptr, run, start);
  if (err) free(start);
  return result(err);
}

int thrd_join(thrd_t thr, int* res) {
  void* ret = nullptr;
  const int err = pthread_join(thr, &ret);
  if (!err && res) *res = static_cast<int>(reinterpret_cast<intptr_t>(ret));
  return result(err);
}

int mtx_init(mtx_t* m, int type) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  if (type & mtx_recursive) pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  const int err = pthread_mutex_init(pm(m), &attr);
  pthread_mutexattr_destroy(&attr);
  return result(err);
}
int mtx_lock(mtx_t* m) {
  return result(pthread_mutex_lock(pm(m)));
}
int mtx_trylock(mtx_t* m) {
  return result(pthread_mutex_trylock(pm(m)));
}
int mtx_timedlock(mtx_t* __restrict m, const struct timespec* __restrict ts) {
  return result(pthread_mutex_timedlock(pm(m), ts));
}
int mtx_unlock(mtx_t* m) {
  return result(pthread_mutex_unlock(pm(m)));
}
void mtx_destroy(mtx_t* m) {
  pthread_mutex_destroy(pm(m));
}

int cnd_init(cnd_t* c) {
  return result(pthread_cond_init(pc(c), nullptr));
}
int cnd_signal(cnd_t* c) {
  return result(pthread_cond_signal(pc(c)));
}
int cnd_broadcast(cnd_t* c) {
  return result(pthread_cond_broadcast(pc(c)));
}
int cnd_wait(cnd_t* c, mtx_t* m) {
  return result(pthread_cond_wait(pc(c), pm(m)));
}
int cnd_timedwait(cnd_t* __restrict c, mtx_t* __restrict m, const struct timespec* __restrict ts) {
  return result(pthread_cond_timedwait(pc(c), pm(m), ts));
}
void cnd_destroy(cnd_t* c) {
  pthread_cond_destroy(pc(c));
}

void call_once(once_flag* flag, void (*fn)(void)) {
  pthread_once(reinterpret_cast<pthread_once_t*>(flag), fn);
}

// librdkafka frees a topic when its reference count (a plain atomic, which
// TSan does not see in an uninstrumented library) drops to zero, and
// destroys the topic's rwlock then: TSan takes the last rdlock of another
// thread for a race with that destroy. Only that report is suppressed.
const char* __tsan_default_suppressions() {
  return "race_top:pthread_rwlock_destroy\n";
}

}  // extern "C"

#endif  // __SANITIZE_THREAD__
