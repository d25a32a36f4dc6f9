#ifndef PROTEAN_ADMIN_TESTS_INTEGRATION_REBUILD_TEST_DOMAIN_H_
#define PROTEAN_ADMIN_TESTS_INTEGRATION_REBUILD_TEST_DOMAIN_H_

// Protean's "Test" domain of docs/protean-compatibility.md §7, built in code (no domain.toml
// parser): User(Registered, ProfileUpdated), Transaction(Transacted); Balances fed by
// TransactionProjector (action form) and UserDirectory fed by UserDirectoryProjector (SQL form).

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "domain/model.h"

namespace protean_admin::testing {

// ":user_id", ":a.b", ":$global_position".
inline domain::Parameter Param(std::string_view text) {
  domain::Parameter p;
  p.text = std::string(text);
  std::string_view body = text.substr(1);
  if (!body.empty() && body[0] == '$') {
    std::string_view name = body.substr(1);
    using A = domain::MessageAttribute;
    if (name == "global_position") p.attribute = A::kGlobalPosition;
    if (name == "position") p.attribute = A::kPosition;
    if (name == "stream_name") p.attribute = A::kStreamName;
    if (name == "stream_id") p.attribute = A::kStreamId;
    if (name == "type") p.attribute = A::kType;
    if (name == "version") p.attribute = A::kVersion;
    if (name == "time") p.attribute = A::kTime;
    if (name == "message_id") p.attribute = A::kMessageId;
    return p;
  }
  size_t start = 0;
  while (true) {
    size_t dot = body.find('.', start);
    p.path.push_back(std::string(body.substr(start, dot - start)));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return p;
}

inline domain::Value Ref(std::string_view text) {
  domain::Value v;
  v.parameter = Param(text);
  return v;
}

inline domain::Value Lit(nlohmann::json literal) {
  domain::Value v;
  v.literal = std::move(literal);
  return v;
}

// An SQL statement already rewritten with $1..$n; `params` bind them in order.
inline domain::SqlStatement Sql(std::string text, std::vector<std::string> params) {
  domain::SqlStatement s;
  s.original = text;
  s.text = std::move(text);
  for (const std::string& p : params) s.parameters.push_back(Param(p));
  return s;
}

inline domain::Handler SqlHandler(std::string event, std::vector<domain::SqlStatement> sql) {
  domain::Handler h;
  h.event = std::move(event);
  h.form = domain::Handler::Form::kSql;
  h.sql = std::move(sql);
  return h;
}

inline domain::Handler ActionHandler(
    std::string event, std::string key, std::vector<std::pair<std::string, domain::Value>> set,
    std::vector<std::pair<std::string, domain::Value>> insert = {},
    std::vector<std::pair<std::string, domain::Value>> increment = {}, bool remove = false) {
  domain::Handler h;
  h.event = std::move(event);
  h.form = domain::Handler::Form::kAction;
  h.key = Ref(key);
  h.set = std::move(set);
  h.insert = std::move(insert);
  h.increment = std::move(increment);
  h.remove = remove;
  return h;
}

inline void AddEvent(domain::Domain& d, std::string name, std::string aggregate, int version = 1) {
  domain::Event e;
  e.name = name;
  e.aggregate = std::move(aggregate);
  e.version = version;
  e.type_string = d.camel_case_name + "." + name + ".v" + std::to_string(version);
  d.events.push_back(std::move(e));
}

// The Test domain. Both databases point at the same scratch database unless told otherwise.
// `with_user_directory_projector` = false leaves UserDirectory without projectors (item 10).
inline domain::Domain MakeTestDomain(const std::string& event_store_uri,
                                     const std::string& projection_uri,
                                     bool with_user_directory = true,
                                     bool with_user_directory_projector = true,
                                     std::optional<std::string> subscriber = std::nullopt) {
  domain::Domain d;
  d.name = "Test";
  d.normalized_name = "test";
  d.camel_case_name = "Test";
  d.source_file = "(test fixture)";
  d.event_store.provider = "message_db";
  d.event_store.database_uri = event_store_uri;
  d.databases.push_back({"default", "postgresql", projection_uri, ""});
  d.aggregates.push_back({"User", "test::user"});
  d.aggregates.push_back({"Transaction", "test::transaction"});
  AddEvent(d, "Registered", "User");
  AddEvent(d, "ProfileUpdated", "User");
  AddEvent(d, "Transacted", "Transaction");

  domain::Projection balances;
  balances.name = "Balances";
  balances.key = "user_id";
  balances.table = "balances";
  balances.database = "default";
  balances.cache_prefix = "balances";
  balances.columns = {
      {"user_id", "varchar(255)"}, {"name", "varchar(255)"}, {"balance", "double precision"}};
  d.projections.push_back(balances);

  domain::Projector tp;
  tp.name = "TransactionProjector";
  tp.projector_for = "Balances";
  tp.categories = {"test::transaction", "test::user"};
  tp.subscriber = subscriber;
  tp.handlers.push_back(
      ActionHandler("Registered", ":user_id", {{"name", Ref(":name")}, {"balance", Lit(0)}}));
  tp.handlers.push_back(ActionHandler("Transacted", ":user_id", {},
                                      {{"name", Lit("")}, {"balance", Ref(":amount")}},
                                      {{"balance", Ref(":amount")}}));
  d.projectors.push_back(tp);

  if (with_user_directory) {
    domain::Projection directory;
    directory.name = "UserDirectory";
    directory.key = "user_id";
    directory.table = "user_directory";
    directory.database = "default";
    directory.cache_prefix = "user_directory";
    directory.columns = {
        {"user_id", "varchar(255)"}, {"email", "varchar(255)"}, {"name", "varchar(255)"}};
    d.projections.push_back(directory);
    if (with_user_directory_projector) {
      domain::Projector up;
      up.name = "UserDirectoryProjector";
      up.projector_for = "UserDirectory";
      up.categories = {"test::user"};
      up.handlers.push_back(SqlHandler(
          "Registered",
          {Sql("INSERT INTO user_directory (user_id, email, name) VALUES ($1, $2, $3) "
               "ON CONFLICT (user_id) DO UPDATE SET email = EXCLUDED.email, name = EXCLUDED.name",
               {":user_id", ":email", ":name"})}));
      d.projectors.push_back(up);
    }
  }
  return d;
}

}  // namespace protean_admin::testing

#endif  // PROTEAN_ADMIN_TESTS_INTEGRATION_REBUILD_TEST_DOMAIN_H_
