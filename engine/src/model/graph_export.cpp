#include <onevisit/engine/graph_export.hpp>

// g++ 12 reports a false -Wmaybe-uninitialized inside boost::optional when write_graphviz
// iterates edges; the iterator is always set before use.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/graphviz.hpp>

#include <set>
#include <sstream>

namespace onevisit::engine {

namespace {

// DOT string literal (UTF-8 passes through; Chinese titles render with a CJK font).
std::string dot_quote(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

// Mermaid labels cannot contain a double quote; use the typographic one.
std::string mermaid_label(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == '"') {
      out += "#quot;";
    } else if (c != '\n') {
      out += c;
    }
  }
  return out;
}

struct Node {
  std::string label;
  std::string attributes;  ///< extra DOT attributes
};
struct Edge {
  std::string attributes;
};
using DrawGraph = boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS, Node, Edge>;

std::string write_dot(const DrawGraph& g, const std::string& graph_statements) {
  std::ostringstream out;
  boost::write_graphviz(
      out, g,
      [&](std::ostream& o, auto v) { o << "[label=" << dot_quote(g[v].label) << g[v].attributes << "]"; },
      [&](std::ostream& o, auto e) {
        if (!g[e].attributes.empty()) o << "[" << g[e].attributes << "]";
      },
      [&](std::ostream& o) { o << graph_statements; });
  return out.str();
}

std::string limit_text(const ItemModel& item) {
  if (item.immediate) return "即办";
  return item.promised ? item.promised->to_string() : "";
}

}  // namespace

std::string bundle_dot(const Workflow& wf) {
  DrawGraph g;
  const CriticalPath path = wf.critical_path();
  const std::set<ItemIndex> critical(path.items.begin(), path.items.end());
  std::set<std::pair<ItemIndex, ItemIndex>> critical_edges;
  for (std::size_t i = 1; i < path.items.size(); ++i) critical_edges.emplace(path.items[i - 1], path.items[i]);

  for (const auto& item : wf.items) {
    const ItemIndex i = static_cast<ItemIndex>(boost::num_vertices(g));
    // Conditional items (a `when`) are drawn dashed: they run only in some situations.
    std::string attributes = item.when ? ", shape=box, style=\"rounded,filled,dashed\"" : ", shape=box, style=\"rounded,filled\"";
    attributes += critical.contains(i) ? ", fillcolor=\"#fde2e1\", color=\"#c0392b\", penwidth=2" : ", fillcolor=\"#eef3fb\"";
    boost::add_vertex(Node{item.title + "\n" + item.id + " · " + limit_text(item), attributes}, g);
  }
  const auto intake = boost::add_vertex(Node{"综窗受理 intake", ", shape=circle, style=filled, fillcolor=\"#d5f5e3\""}, g);
  const auto delivery = boost::add_vertex(Node{"出件 delivery", ", shape=doublecircle, style=filled, fillcolor=\"#d5f5e3\""}, g);
  for (ItemIndex i = 0; i < wf.items.size(); ++i) {
    const auto& item = wf.items[i];
    for (const auto before : item.after) {
      const bool hot = critical_edges.contains({before, i});
      boost::add_edge(before, i, Edge{hot ? "color=\"#c0392b\", penwidth=2" : ""}, g);
    }
    if (item.after.empty()) boost::add_edge(intake, i, Edge{critical.contains(i) ? "color=\"#c0392b\", penwidth=2" : "style=dashed"}, g);
    if (item.dependents.empty()) {
      const bool hot = !path.items.empty() && path.items.back() == i;
      boost::add_edge(i, delivery, Edge{hot ? "color=\"#c0392b\", penwidth=2" : "style=dashed"}, g);
    }
  }
  // Graph-level statements: layout, and one cluster per department listing its items.
  std::ostringstream statements;
  statements << "rankdir=LR;\nlabel=" << dot_quote(wf.title + " v" + std::to_string(wf.version) +
                                                   (wf.promise ? " · promise " + wf.promise->to_string() : "") +
                                                   " · critical path " + path.workdays.to_string() + " workdays")
             << ";\nlabelloc=t;\nfontname=\"Noto Sans CJK SC,sans-serif\";\n"
             << "node [fontname=\"Noto Sans CJK SC,sans-serif\"];\n";
  for (DepartmentIndex d = 0; d < wf.departments.size(); ++d) {
    statements << "subgraph cluster_" << d << " {\nlabel=" << dot_quote(wf.departments[d].title)
               << ";\nstyle=\"rounded,dashed\";\ncolor=\"#7f8c8d\";\n";
    for (ItemIndex i = 0; i < wf.items.size(); ++i) {
      if (wf.items[i].department == d) statements << i << ";\n";
    }
    statements << "}\n";
  }
  return write_dot(g, statements.str());
}

std::string bundle_mermaid(const Workflow& wf) {
  const CriticalPath path = wf.critical_path();
  const std::set<ItemIndex> critical(path.items.begin(), path.items.end());
  std::ostringstream out;
  out << "flowchart LR\n";
  out << "  intake((\"综窗受理\"))\n  delivery(((\"出件\")))\n";
  for (DepartmentIndex d = 0; d < wf.departments.size(); ++d) {
    out << "  subgraph dept_" << d << "[\"" << mermaid_label(wf.departments[d].title) << "\"]\n";
    for (ItemIndex i = 0; i < wf.items.size(); ++i) {
      const auto& item = wf.items[i];
      if (item.department != d) continue;
      out << "    item_" << i << "[\"" << mermaid_label(item.title) << "<br/>" << item.id << " · " << limit_text(item) << "\"]\n";
    }
    out << "  end\n";
  }
  int edge = 0;
  std::vector<int> hot_edges;
  for (ItemIndex i = 0; i < wf.items.size(); ++i) {
    const auto& item = wf.items[i];
    for (const auto before : item.after) {
      out << "  item_" << before << " --> item_" << i << "\n";
      if (critical.contains(before) && critical.contains(i)) hot_edges.push_back(edge);
      ++edge;
    }
    if (item.after.empty()) {
      out << "  intake -.-> item_" << i << "\n";
      ++edge;
    }
    if (item.dependents.empty()) {
      out << "  item_" << i << " -.-> delivery\n";
      ++edge;
    }
  }
  out << "  classDef critical fill:#fde2e1,stroke:#c0392b,stroke-width:2px\n";
  for (const auto i : path.items) out << "  class item_" << i << " critical\n";
  for (const auto e : hot_edges) out << "  linkStyle " << e << " stroke:#c0392b,stroke-width:2px\n";
  return out.str();
}

std::string lifecycle_dot(const LifecycleModel& lc) {
  DrawGraph g;
  for (const auto& s : lc.states) {
    std::string attributes = s.final ? ", shape=doublecircle" : ", shape=ellipse";
    if (s.pauses_clock) attributes += ", style=\"filled,dashed\", fillcolor=\"#fef5e7\"";
    boost::add_vertex(Node{s.title == s.id ? s.id : s.title + "\n" + s.id, attributes}, g);
  }
  const auto start = boost::add_vertex(Node{"", ", shape=point, width=0.15"}, g);
  if (lc.initial) boost::add_edge(start, *lc.initial, Edge{}, g);
  for (const auto& t : lc.transitions) {
    std::string label = t.event;
    if (!t.roles.empty()) {
      label += " [";
      for (std::size_t i = 0; i < t.roles.size(); ++i) label += (i ? ", " : "") + t.roles[i];
      label += "]";
    }
    if (t.after) label += "\\nafter " + t.after->to_string();
    if (!t.guard_text.empty()) label += "\\nwhen " + t.guard_text;
    for (const auto source : t.sources) {
      boost::add_edge(source, t.target, Edge{"label=" + dot_quote(label) + (t.after ? ", style=dashed" : "")}, g);
    }
  }
  std::string statements = "rankdir=LR;\nlabel=" + dot_quote(lc.title + " (" + lc.id + ")") +
                           ";\nlabelloc=t;\nfontname=\"Noto Sans CJK SC,sans-serif\";\n"
                           "node [fontname=\"Noto Sans CJK SC,sans-serif\"];\nedge [fontname=\"Noto Sans CJK SC,sans-serif\", fontsize=10];\n";
  return write_dot(g, statements);
}

std::string lifecycle_mermaid(const LifecycleModel& lc) {
  std::ostringstream out;
  out << "stateDiagram-v2\n";
  for (const auto& s : lc.states) out << "  " << s.id << " : " << mermaid_label(s.title) << "\n";
  if (lc.initial) out << "  [*] --> " << lc.states[*lc.initial].id << "\n";
  for (const auto& t : lc.transitions) {
    for (const auto source : t.sources) {
      out << "  " << lc.states[source].id << " --> " << lc.states[t.target].id << " : " << t.event;
      if (!t.roles.empty()) out << " (" << t.roles.front() << (t.roles.size() > 1 ? ", …" : "") << ")";
      out << "\n";
    }
  }
  for (const auto& s : lc.states) {
    if (s.final) out << "  " << s.id << " --> [*]\n";
  }
  return out.str();
}

}  // namespace onevisit::engine

#pragma GCC diagnostic pop
