#include "bounded_pool.hpp"

#include <cassert>

namespace onevisit::server {

BoundedPool::BoundedPool(std::size_t threads, std::size_t queue_capacity) : limit_(threads + queue_capacity) {
  assert(threads >= 1);
  for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { work(); });
}

BoundedPool::~BoundedPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& thread : threads_) thread.join();
}

bool BoundedPool::admit(std::function<void()> job) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || admitted_ >= limit_) return false;
    ++admitted_;
    queue_.push_back(std::move(job));
  }
  wake_.notify_one();
  return true;
}

void BoundedPool::leave() {
  std::lock_guard lock(mutex_);
  --admitted_;
}

void BoundedPool::work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and every admitted job has run
    auto job = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    job();  // a packaged_task: an exception goes to the waiting caller
    lock.lock();
  }
}

}  // namespace onevisit::server
