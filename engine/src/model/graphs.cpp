#include "model/graphs.hpp"

#include <onevisit/engine/runtime.hpp>

#include <boost/graph/breadth_first_search.hpp>
#include <boost/graph/depth_first_search.hpp>

#include <algorithm>

namespace onevisit::engine {

// ---------------------------------------------------------------------------------------
// Lifecycles

LifecycleModel::LifecycleModel() = default;
LifecycleModel::~LifecycleModel() = default;
LifecycleModel::LifecycleModel(LifecycleModel&&) noexcept = default;
LifecycleModel& LifecycleModel::operator=(LifecycleModel&&) noexcept = default;

void LifecycleModel::build_graph() {
  graph_ = std::make_unique<LifecycleGraph>();
  auto& g = graph_->graph;
  for (std::size_t i = 0; i < states.size(); ++i) boost::add_vertex(g);
  for (TransitionIndex t = 0; t < transitions.size(); ++t) {
    for (const auto source : transitions[t].sources) boost::add_edge(source, transitions[t].target, TransitionEdge{t}, g);
  }
}

std::optional<StateIndex> LifecycleModel::find_state(std::string_view state_id) const {
  for (StateIndex i = 0; i < states.size(); ++i) {
    if (states[i].id == state_id) return i;
  }
  return std::nullopt;
}

std::string_view LifecycleModel::event_title(std::string_view event) const {
  for (const auto& t : transitions) {
    if (t.event == event) return t.title;
  }
  return engine::event_title(event);
}

std::vector<TransitionIndex> LifecycleModel::transitions_from(StateIndex state) const {
  std::vector<TransitionIndex> out;
  if (!graph_ || state >= boost::num_vertices(graph_->graph)) return out;
  for (const auto edge : boost::make_iterator_range(boost::out_edges(state, graph_->graph))) {
    out.push_back(graph_->graph[edge].transition);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

namespace {
struct ReachVisitor : boost::default_bfs_visitor {
  std::vector<bool>* reached;
  explicit ReachVisitor(std::vector<bool>* r) : reached(r) {}
  template <class Vertex, class Graph>
  void discover_vertex(Vertex v, const Graph&) const {
    (*reached)[v] = true;
  }
};
}  // namespace

std::vector<bool> LifecycleModel::reachable_from_initial() const {
  std::vector<bool> reached(states.size(), false);
  if (!graph_ || !initial) return reached;
  boost::breadth_first_search(graph_->graph, *initial, boost::visitor(ReachVisitor{&reached}));
  return reached;
}

// ---------------------------------------------------------------------------------------
// Items

ItemGraph item_graph(const Workflow& workflow) {
  ItemGraph g(workflow.items.size());
  for (ItemIndex i = 0; i < workflow.items.size(); ++i) {
    for (const auto before : workflow.items[i].after) boost::add_edge(before, i, g);
  }
  return g;
}

namespace {
// Depth-first search that records finishing order and the first back edge it meets.
struct CycleVisitor : boost::default_dfs_visitor {
  std::vector<ItemIndex>* finished;
  std::vector<ItemIndex>* parent;
  std::optional<std::pair<ItemIndex, ItemIndex>>* first_back_edge;
  template <class Edge, class Graph>
  void tree_edge(Edge e, const Graph& g) const {
    (*parent)[boost::target(e, g)] = static_cast<ItemIndex>(boost::source(e, g));
  }
  template <class Edge, class Graph>
  void back_edge(Edge e, const Graph& g) const {
    if (!*first_back_edge) {
      *first_back_edge = std::make_pair(static_cast<ItemIndex>(boost::source(e, g)), static_cast<ItemIndex>(boost::target(e, g)));
    }
  }
  template <class Vertex, class Graph>
  void finish_vertex(Vertex v, const Graph&) const {
    finished->push_back(static_cast<ItemIndex>(v));
  }
};
}  // namespace

OrderOrCycle topological_order_or_cycle(const ItemGraph& graph) {
  const auto n = boost::num_vertices(graph);
  std::vector<ItemIndex> finished;
  std::vector<ItemIndex> parent(n);
  for (ItemIndex i = 0; i < n; ++i) parent[i] = i;
  std::optional<std::pair<ItemIndex, ItemIndex>> back;
  boost::depth_first_search(graph, boost::visitor(CycleVisitor{{}, &finished, &parent, &back}));
  OrderOrCycle result;
  if (back) {
    // The back edge u -> v closes a cycle v -> ... -> u -> v along the tree.
    auto [u, v] = *back;
    std::vector<ItemIndex> path{u};
    while (path.back() != v && parent[path.back()] != path.back()) path.push_back(parent[path.back()]);
    std::reverse(path.begin(), path.end());
    result.cycle = std::move(path);
    return result;
  }
  result.order.assign(finished.rbegin(), finished.rend());
  return result;
}

Ancestors ancestors(const ItemGraph& graph, const std::vector<ItemIndex>& order) {
  Ancestors result(boost::num_vertices(graph));
  for (const auto item : order) {
    for (const auto edge : boost::make_iterator_range(boost::in_edges(item, graph))) {
      const auto before = static_cast<ItemIndex>(boost::source(edge, graph));
      result.add(item, before);
      result.add_all(item, before);
    }
  }
  return result;
}

}  // namespace onevisit::engine
