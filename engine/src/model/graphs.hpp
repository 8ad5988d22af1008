// Boost.Graph types used inside the engine. Private: no public header includes this.
#pragma once

#include <onevisit/engine/workflow.hpp>

#include <boost/graph/adjacency_list.hpp>

#include <optional>
#include <vector>

namespace onevisit::engine {

/// A lifecycle's states as vertices; each edge carries the transition it stands for (a
/// transition with several source states is one edge per source).
struct TransitionEdge {
  TransitionIndex transition = 0;
};
using StateGraph = boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS, boost::no_property, TransitionEdge>;

class LifecycleGraph {
 public:
  StateGraph graph;
};

/// The items of a bundle as vertices, an edge from each item to the items that come after it.
using ItemGraph = boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS>;

ItemGraph item_graph(const Workflow& workflow);

/// A topological order of the items, or the items of one cycle (in order, first repeated at
/// the end is implied) when there is one.
struct OrderOrCycle {
  std::vector<ItemIndex> order;
  std::vector<ItemIndex> cycle;
};
OrderOrCycle topological_order_or_cycle(const ItemGraph& graph);

/// Which items must be done before which (transitively), as bit rows.
class Ancestors {
 public:
  Ancestors() = default;
  Ancestors(std::size_t items) : words_((items + 63) / 64), bits_(items * words_, 0) {}
  /// True when item `before` must be done before `item` starts.
  bool contains(ItemIndex item, ItemIndex before) const {
    return (bits_[item * words_ + before / 64] >> (before % 64)) & 1;
  }
  void add(ItemIndex item, ItemIndex before) { bits_[item * words_ + before / 64] |= std::uint64_t{1} << (before % 64); }
  void add_all(ItemIndex item, ItemIndex from) {
    for (std::size_t w = 0; w < words_; ++w) bits_[item * words_ + w] |= bits_[from * words_ + w];
  }

 private:
  std::size_t words_ = 0;
  std::vector<std::uint64_t> bits_;
};

/// The ancestors of every item, OR-ed along the edges in topological order.
Ancestors ancestors(const ItemGraph& graph, const std::vector<ItemIndex>& order);

}  // namespace onevisit::engine
