#pragma once
// What the report writers share: reading figures out of the scenarios' JSON and writing them as
// text and SVG.
#include <boost/json/object.hpp>

#include <initializer_list>
#include <string>
#include <string_view>

namespace topup::bench {

/// The number at `path` ({"cpu", "run_s"}) in `o`; 0 if absent or not a number.
double number_at(const boost::json::object& o, std::initializer_list<std::string_view> path);

/// `v` with `decimals` digits after the point.
std::string fixed(double v, int decimals);

/// `s` safe inside SVG text and attributes.
std::string xml_escape(std::string_view s);

/// The top of a linear axis that holds `max`: a round number (1, 1.5, 2, 3 ... times a power of
/// ten) with at least 8% above `max`.
double axis_top(double max);

}  // namespace topup::bench
