#ifndef PROTEAN_ADMIN_SERVER_REBUILD_LUA_DECIMAL_H_
#define PROTEAN_ADMIN_SERVER_REBUILD_LUA_DECIMAL_H_

// The decimal values of Lua handlers: exact numeric values (server/rebuild/decimal.h) as a
// small userdata type, so that `numeric` columns never go through a binary double.
//
//  - `decimal(x)` makes one from a string ("12.50": Protean serialises Decimal fields as
//    strings), an integer, a float (through its shortest round-trip text: decimal(0.1) is
//    0.1, not 0.1000000000000000055...) or a decimal. numeric columns read as decimals.
//  - `+ - *` and unary `-` give decimals with PostgreSQL's scales (a + b and a - b: the larger
//    scale; a * b: the sum of the scales); an integer, float or numeric string operand is
//    converted as decimal(x) first, so decimal("0.1") + 0.2 is exactly 0.3.
//  - `< <= > >=` compare by value with any such operand; `==` only between two decimals
//    (decimal("1.0") == decimal("1.00")): Lua never calls __eq for a decimal and a number,
//    which are then unequal.
//  - tostring(d) and `..` give its text ("12.50"); tonumber(tostring(d)) gives a float.
//  - `/ // % ^` are refused: numeric division has no fixed result scale.
//  - A value has at most kMaxDecimalDigits digits.

#include <lua.hpp>
#include <string>

#include "server/rebuild/decimal.h"

namespace protean_admin::rebuild {

inline constexpr size_t kMaxDecimalDigits = 1000;

// Creates the decimal metatable (Context(L).decimal_metatable) and pushes the `decimal`
// constructor (a callable, read-only table).
void OpenDecimalLibrary(lua_State* L);

bool IsDecimal(lua_State* L, int index);
// The decimal at `index` (IsDecimal) into `out`, reusing its buffer.
void ReadDecimal(lua_State* L, int index, Decimal& out);
// An integer, float, numeric string or decimal at `index` into `out`; false with
// Context(L).error otherwise. Never raises.
bool ToDecimal(lua_State* L, int index, Decimal& out);
// Pushes `value`; raises when it has more than kMaxDecimalDigits digits.
void PushDecimal(lua_State* L, const Decimal& value);

}  // namespace protean_admin::rebuild

#endif  // PROTEAN_ADMIN_SERVER_REBUILD_LUA_DECIMAL_H_
