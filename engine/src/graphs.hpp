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

/// ancestors[i][j]: item j must be done before item i starts (transitively).
std::vector<std::vector<bool>> ancestors(const ItemGraph& graph, const std::vector<ItemIndex>& order);

}  // namespace onevisit::engine
