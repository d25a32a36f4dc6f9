// protean-admin's output lines (docs/protean-compatibility.md §6), progress rendering, JSON lines
// and argument resolution.

#include "client/output.h"

#include <sstream>

#include "client/commands.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace protean_admin::client {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

pb::RebuildResult Result(const std::string& name, int64_t dispatched, int64_t skipped = 0,
                         int projectors = 1, int categories = 2) {
  pb::RebuildResult r;
  r.set_projection_name(name);
  r.set_events_dispatched(dispatched);
  r.set_events_skipped(skipped);
  r.set_projectors_processed(projectors);
  r.set_categories_processed(categories);
  r.set_success(true);
  return r;
}

pb::RebuildResult Failed(const std::string& name, const std::string& error) {
  pb::RebuildResult r;
  r.set_projection_name(name);
  r.add_errors(error);
  r.set_success(false);
  return r;
}

TEST(SingleResultLinesTest, Single) {
  EXPECT_THAT(SingleResultLines(Result("Balances", 42)),
              ElementsAre("Rebuilt projection 'Balances': 42 events processed through 1 "
                          "projector(s) across 2 category/categories."));
}

TEST(SingleResultLinesTest, SingleWithSkips) {
  EXPECT_THAT(SingleResultLines(Result("Balances", 42, 2)),
              ElementsAre("Rebuilt projection 'Balances': 42 events processed through 1 "
                          "projector(s) across 2 category/categories.",
                          "  (2 events skipped)"));
}

TEST(SingleResultLinesTest, NoProjectors) {
  EXPECT_THAT(SingleResultLines(
                  Failed("UserDirectory", "No projectors found for projection `UserDirectory`")),
              ElementsAre("Error: No projectors found for projection `UserDirectory`"));
}

TEST(ResultDetailLinesTest, WarningsThenSkipReasons) {
  pb::RebuildResult r = Result("Balances", 40, 9);
  EXPECT_TRUE(ResultDetailLines(r).empty());
  r.add_warnings("Projector 'P': every one of the 3 events it handled failed");
  pb::SkipReason* bad = r.add_skip_reasons();
  bad->set_projector("TransactionProjector");
  bad->set_event_type("Test.Transacted.v1");
  bad->set_reason("invalid input syntax for type double precision: \"bad\"");
  bad->set_count(8);
  for (int64_t p : {17, 45}) bad->add_first_positions(p);
  pb::SkipReason* unknown = r.add_skip_reasons();
  unknown->set_event_type("Test.Mystery.v1");
  unknown->set_reason("the type cannot be resolved");
  unknown->set_count(1);
  unknown->add_first_positions(3);
  EXPECT_THAT(
      ResultDetailLines(r),
      ElementsAre(
          "warning: [Balances] Projector 'P': every one of the 3 events it handled failed",
          "Skipped events of Balances:",
          "  8 x TransactionProjector, Test.Transacted.v1: invalid input syntax for type "
          "double precision: \"bad\" (first at global positions 17, 45)",
          "  1 x Test.Mystery.v1: the type cannot be resolved (first at global position 3)"));
  nlohmann::json json = ResultJson(r);
  EXPECT_EQ(json["skip_reasons"][0]["count"], 8);
  EXPECT_EQ(json["skip_reasons"][0]["first_positions"], nlohmann::json({17, 45}));
  EXPECT_EQ(json["skip_reasons"][1]["projector"], "");
  EXPECT_EQ(json["warnings"].size(), 1u);
}

TEST(AllResultLinesTest, AllWithOneFailed) {
  EXPECT_THAT(AllResultLines({Result("Balances", 42),
                              Failed("Broken", "No projectors found for projection `Broken`")}),
              ElementsAre("  Balances: 42 events processed",
                          "  Broken: ERROR - No projectors found for projection `Broken`",
                          "Rebuilt 2 projection(s), 42 total events processed."));
}

TEST(AllResultLinesTest, TotalSumsSuccessfulOnes) {
  EXPECT_THAT(AllResultLines({Result("A", 10), Result("B", 5)}),
              ElementsAre("  A: 10 events processed", "  B: 5 events processed",
                          "Rebuilt 2 projection(s), 15 total events processed."));
}

TEST(AllResultLinesTest, NoProjections) {
  EXPECT_THAT(AllResultLines({}), ElementsAre("No projections found in domain."));
}

TEST(ErrorLinesTest, NotFound) {
  EXPECT_THAT(
      ErrorLines(grpc::Status(grpc::StatusCode::NOT_FOUND, "Projection 'NonExistent' not found"),
                 "NonExistent"),
      ElementsAre("Error: Projection 'NonExistent' not found in domain."));
}

TEST(ErrorLinesTest, DomainLoadErrorVerbatim) {
  EXPECT_THAT(ErrorLines(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                      "Error loading Protean domain: no domain.toml in ."),
                         "Balances"),
              ElementsAre("Error loading Protean domain: no domain.toml in ."));
  // NotFound from the loader is still a domain load error, not a projection not found.
  EXPECT_THAT(
      ErrorLines(grpc::Status(grpc::StatusCode::NOT_FOUND, "Error loading Protean domain: x"),
                 "Balances"),
      ElementsAre("Error loading Protean domain: x"));
}

TEST(ErrorLinesTest, OtherErrors) {
  EXPECT_THAT(
      ErrorLines(
          grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "Refusing to rebuild: running"), ""),
      ElementsAre("Error: Refusing to rebuild: running"));
}

TEST(FormatTest, Durations) {
  EXPECT_EQ(FormatDuration(-1), "?");
  EXPECT_EQ(FormatDuration(4.4), "4s");
  EXPECT_EQ(FormatDuration(65), "1m05s");
  EXPECT_EQ(FormatDuration(7380), "2h03m");
  EXPECT_EQ(FormatCount(950), "950");
  EXPECT_EQ(FormatCount(12345), "12.3k");
  EXPECT_EQ(FormatCount(1234567), "1.2M");
}

pb::Progress MakeProgress(int64_t processed, int64_t total) {
  pb::Progress p;
  p.set_projection("Balances");
  p.set_processed(processed);
  p.set_total(total);
  p.set_events_per_second(12345);
  p.set_eta_seconds(4);
  return p;
}

TEST(FormatTest, ProgressLines) {
  std::string bar = ProgressBarLine(MakeProgress(45000, 100000), 100);
  EXPECT_THAT(bar, HasSubstr(" 45%   45000/100000 events   12.3k ev/s  ETA 4s     Balances"));
  EXPECT_EQ(bar.rfind("[", 0), 0u);
  EXPECT_LT(bar.size(), 100u);
  // The bar keeps its width from the first event to the last.
  pb::Progress start = MakeProgress(0, 100000);
  start.set_events_per_second(0);
  start.set_eta_seconds(-1);
  pb::Progress end = MakeProgress(100000, 100000);
  end.set_events_per_second(255900);
  end.set_eta_seconds(0);
  EXPECT_EQ(ProgressBarLine(start, 100).find(']'), bar.find(']'));
  EXPECT_EQ(ProgressBarLine(end, 100).find(']'), bar.find(']'));
  EXPECT_EQ(ProgressPlainLine(MakeProgress(45000, 100000)),
            "[Balances] 45000/100000 events (45.0%), 12.3k events/s, ETA 4s");
  // A narrow terminal never wraps.
  EXPECT_LT(ProgressBarLine(MakeProgress(1, 2), 30).size(), 30u);
}

pb::RebuildEvent Started(bool all, std::vector<std::string> projections) {
  pb::RebuildEvent e;
  e.set_job_id("j1");
  e.mutable_started()->set_all(all);
  for (auto& p : projections) e.mutable_started()->add_projections(p);
  return e;
}

pb::RebuildEvent ResultEvent(const pb::RebuildResult& r) {
  pb::RebuildEvent e;
  e.set_job_id("j1");
  *e.mutable_result() = r;
  return e;
}

// `projections --json`: one object per projection.
TEST(FormatTest, ProjectionJson) {
  pb::ProjectionInfo info;
  info.set_name("Balances");
  info.set_kind("database");
  info.set_target("public.balances");
  info.add_projectors("BalanceProjector");
  info.add_categories("bank::account");
  EXPECT_EQ(ProjectionJson(info).dump(),
            R"({"categories":["bank::account"],"kind":"database","name":"Balances",)"
            R"("projectors":["BalanceProjector"],"target":"public.balances"})");
}

TEST(RebuildRendererTest, SingleRebuildPrintsResultLinesOnStdoutAndProgressOnStderr) {
  std::ostringstream out, err;
  auto t = RebuildRenderer::Clock::time_point();
  RebuildRenderer renderer(out, err, ProgressMode::kPlain, [&] { return t; });
  renderer.OnEvent(Started(false, {"Balances"}));
  pb::RebuildEvent progress;
  *progress.mutable_progress() = MakeProgress(10, 100);
  renderer.OnEvent(progress);
  *progress.mutable_progress() = MakeProgress(20, 100);
  renderer.OnEvent(progress);  // within 1 s: throttled
  t += std::chrono::seconds(2);
  *progress.mutable_progress() = MakeProgress(30, 100);
  renderer.OnEvent(progress);
  renderer.OnEvent(ResultEvent(Result("Balances", 42, 2)));
  EXPECT_EQ(renderer.Finish(grpc::Status::OK), kExitOk);
  EXPECT_EQ(out.str(),
            "Rebuilt projection 'Balances': 42 events processed through 1 projector(s) across 2 "
            "category/categories.\n  (2 events skipped)\n");
  EXPECT_THAT(err.str(), HasSubstr("[Balances] 10/100 events"));
  EXPECT_THAT(err.str(), ::testing::Not(HasSubstr("[Balances] 20/100 events")));
  EXPECT_THAT(err.str(), HasSubstr("[Balances] 30/100 events"));
  EXPECT_EQ(renderer.job_id(), "j1");
}

TEST(RebuildRendererTest, AllWithAFailedProjectionExitsOne) {
  std::ostringstream out, err;
  RebuildRenderer renderer(out, err, ProgressMode::kPlain);
  renderer.OnEvent(Started(true, {"Balances", "Broken"}));
  renderer.OnEvent(ResultEvent(Result("Balances", 42)));
  renderer.OnEvent(ResultEvent(Failed("Broken", "No projectors found for projection `Broken`")));
  EXPECT_EQ(renderer.Finish(grpc::Status::OK), kExitFailure);
  EXPECT_EQ(out.str(),
            "  Balances: 42 events processed\n"
            "  Broken: ERROR - No projectors found for projection `Broken`\n"
            "Rebuilt 2 projection(s), 42 total events processed.\n");
}

TEST(RebuildRendererTest, NoProjectionsExitsZero) {
  std::ostringstream out, err;
  RebuildRenderer renderer(out, err, ProgressMode::kPlain);
  renderer.OnEvent(Started(true, {}));
  EXPECT_EQ(renderer.Finish(grpc::Status::OK), kExitOk);
  EXPECT_EQ(out.str(), "No projections found in domain.\n");
}

TEST(RebuildRendererTest, NoProjectorsSingleExitsOne) {
  std::ostringstream out, err;
  RebuildRenderer renderer(out, err, ProgressMode::kTerminal);
  renderer.OnEvent(Started(false, {"UserDirectory"}));
  renderer.OnEvent(
      ResultEvent(Failed("UserDirectory", "No projectors found for projection `UserDirectory`")));
  EXPECT_EQ(renderer.Finish(grpc::Status::OK), kExitFailure);
  EXPECT_EQ(out.str(), "Error: No projectors found for projection `UserDirectory`\n");
}

TEST(RebuildRendererTest, ErrorStatusBeforeAnyEvent) {
  std::ostringstream out, err;
  RebuildRenderer renderer(out, err, ProgressMode::kPlain);
  renderer.set_requested_projection("NonExistent");
  EXPECT_EQ(renderer.Finish(
                grpc::Status(grpc::StatusCode::NOT_FOUND, "Projection 'NonExistent' not found")),
            kExitFailure);
  EXPECT_EQ(out.str(), "Error: Projection 'NonExistent' not found in domain.\n");
}

TEST(RebuildRendererTest, TerminalModeDrawsABarAndClearsIt) {
  std::ostringstream out, err;
  RebuildRenderer renderer(out, err, ProgressMode::kTerminal);
  renderer.OnEvent(Started(false, {"Balances"}));
  pb::RebuildEvent progress;
  *progress.mutable_progress() = MakeProgress(50, 100);
  renderer.OnEvent(progress);
  EXPECT_THAT(err.str(), HasSubstr("\r\033[K["));
  EXPECT_THAT(err.str(), HasSubstr(" 50%"));
  renderer.OnEvent(ResultEvent(Result("Balances", 100)));
  EXPECT_EQ(renderer.Finish(grpc::Status::OK), kExitOk);
  // The bar was cleared before the result.
  EXPECT_EQ(err.str().substr(err.str().size() - 4), "\r\033[K");
}

TEST(RebuildRendererTest, JsonModePrintsOneObjectPerEvent) {
  std::ostringstream out, err;
  RebuildRenderer renderer(out, err, ProgressMode::kJson);
  renderer.OnEvent(Started(false, {"Balances"}));
  renderer.OnEvent(ResultEvent(Result("Balances", 7)));
  EXPECT_EQ(renderer.Finish(grpc::Status::OK), kExitOk);
  std::istringstream lines(out.str());
  std::string first, second, third;
  std::getline(lines, first);
  std::getline(lines, second);
  EXPECT_FALSE(std::getline(lines, third));
  auto a = nlohmann::json::parse(first);
  auto b = nlohmann::json::parse(second);
  EXPECT_EQ(a["type"], "started");
  EXPECT_EQ(a["job_id"], "j1");
  EXPECT_EQ(b["type"], "result");
  EXPECT_EQ(b["result"]["events_dispatched"], 7);
  EXPECT_EQ(b["result"]["success"], true);
  EXPECT_EQ(err.str(), "");
}

TEST(RebuildRendererTest, WaitingForTheEventServerIsSaidOnStderrInEveryMode) {
  pb::RebuildEvent waiting;
  waiting.mutable_phase()->set_projection("Balances");
  waiting.mutable_phase()->set_phase(pb::PHASE_WAITING);
  waiting.mutable_phase()->set_since_unix_ms(1234);
  for (ProgressMode mode : {ProgressMode::kPlain, ProgressMode::kTerminal, ProgressMode::kJson}) {
    std::ostringstream out, err;
    RebuildRenderer renderer(out, err, mode);
    renderer.OnEvent(waiting);
    EXPECT_THAT(err.str(),
                HasSubstr("[Balances] shadow built; waiting for the event server to stop\n"));
    if (mode != ProgressMode::kJson) continue;
    auto j = nlohmann::json::parse(out.str());
    EXPECT_EQ(j["phase"], "waiting");
    EXPECT_EQ(j["since_unix_ms"], 1234);
  }
}

TEST(RebuildRendererTest, JsonModeErrorLine) {
  std::ostringstream out, err;
  RebuildRenderer renderer(out, err, ProgressMode::kJson);
  EXPECT_EQ(renderer.Finish(grpc::Status(grpc::StatusCode::ABORTED, "busy")), kExitFailure);
  auto j = nlohmann::json::parse(out.str());
  EXPECT_EQ(j["type"], "error");
  EXPECT_EQ(j["code"], "ABORTED");
  EXPECT_EQ(j["message"], "busy");
}

pb::RebuildResult Partial(const std::string& name, int64_t dispatched, const std::string& error) {
  pb::RebuildResult r = Failed(name, error);
  r.set_events_dispatched(dispatched);
  r.set_partial(true);
  return r;
}

// A cancelled in-place rebuild: stdout keeps the "Error: ..." line, stderr says the
// projection is partial.
TEST(RebuildRendererTest, PartialResultIsReportedOnStderr) {
  const std::string error =
      "Rebuild of projection 'Balances' was cancelled after 109500 of 230000 events: the "
      "in-place rebuild left the projection partial";
  std::ostringstream out, err;
  RebuildRenderer renderer(out, err, ProgressMode::kPlain);
  renderer.OnEvent(Started(false, {"Balances"}));
  renderer.OnEvent(ResultEvent(Partial("Balances", 109500, error)));
  EXPECT_EQ(renderer.Finish(grpc::Status(grpc::StatusCode::CANCELLED, error)), kExitFailure);
  EXPECT_EQ(out.str(), "Error: " + error + "\n");
  EXPECT_THAT(err.str(), HasSubstr("Projection 'Balances' is left partial: its in-place rebuild "
                                   "ended after 109500 events were applied; rebuild it again to "
                                   "complete it.\n"));
  // A failed in-place rebuild (the stream ends OK with the partial result) too.
  std::ostringstream out2, err2;
  RebuildRenderer failed(out2, err2, ProgressMode::kPlain);
  failed.OnEvent(Started(false, {"Balances"}));
  failed.OnEvent(ResultEvent(Partial("Balances", 7, "connection to PostgreSQL lost")));
  EXPECT_EQ(failed.Finish(grpc::Status::OK), kExitFailure);
  EXPECT_EQ(out2.str(), "Error: connection to PostgreSQL lost\n");
  EXPECT_THAT(err2.str(), HasSubstr("'Balances' is left partial"));
  // Nothing of the kind for complete results.
  EXPECT_THAT(PartialLines({Result("Balances", 3), Failed("X", "boom")}), ElementsAre());
}

TEST(InterruptMessageTest, RollbackPromisedOnlyForAtomicRebuilds) {
  EXPECT_EQ(InterruptMessage("j1", {"Balances"}, {}),
            "Interrupted: cancelling job j1 and waiting for it to end (the atomic strategy rolls "
            "back)...");
  std::string inplace = InterruptMessage("j1", {"Balances"}, {"Balances"});
  EXPECT_THAT(inplace, HasSubstr("nothing is rolled back"));
  EXPECT_THAT(inplace, HasSubstr("the projection is left partial"));
  EXPECT_THAT(inplace, ::testing::Not(HasSubstr("rolls back")));
  std::string mixed = InterruptMessage("j1", {"Balances", "Cached"}, {"Cached"});
  EXPECT_THAT(mixed, HasSubstr("atomic rebuilds roll back; Cached is rebuilt in place and left "
                               "partial"));
}

TEST(TablesTest, JobsAndProjections) {
  pb::JobInfo job;
  job.set_job_id("0001");
  job.set_projection("Balances");
  job.set_state(pb::JOB_STATE_RUNNING);
  job.set_started_unix_ms(1000);
  job.set_processed(5);
  job.set_total(10);
  auto lines = JobsTable({job}, 6000);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_THAT(lines[0], HasSubstr("STATE"));
  EXPECT_THAT(lines[1], HasSubstr("running"));
  EXPECT_THAT(lines[1], HasSubstr("5/10 events"));
  EXPECT_THAT(lines[1], HasSubstr("5s"));
  EXPECT_THAT(JobsTable({}, 0), ElementsAre("No rebuild jobs."));
  job.set_state(pb::JOB_STATE_FAILED);
  job.set_finished_unix_ms(7000);
  *job.add_results() = Partial("Balances", 4, "connection to PostgreSQL lost");
  EXPECT_THAT(JobsTable({job}, 8000)[1], HasSubstr("left partial; 1 projection(s), 4 events"));
  pb::JobInfo shadow;
  shadow.set_job_id("0002");
  shadow.set_projection("Balances");
  shadow.set_strategy(pb::STRATEGY_SHADOW);
  shadow.set_state(pb::JOB_STATE_RUNNING);
  shadow.set_started_unix_ms(1000);
  shadow.set_waiting_since_unix_ms(4000);
  EXPECT_THAT(JobsTable({shadow}, 7000)[1], HasSubstr("shadow"));
  EXPECT_THAT(JobsTable({shadow}, 7000)[1], HasSubstr("waiting for the event server to stop (3s)"));

  pb::ProjectionInfo p;
  p.set_name("Balances");
  p.set_kind("database");
  p.set_target("public.balances");
  p.add_projectors("TransactionProjector");
  p.add_categories("test::transaction");
  p.add_categories("test::user");
  auto rows = ProjectionsTable({p});
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_THAT(rows[1], HasSubstr("TransactionProjector"));
  EXPECT_THAT(rows[1], HasSubstr("test::transaction,test::user"));
}

TEST(ArgsTest, ServerAndDomainResolution) {
  EXPECT_EQ(ResolveServer("", nullptr), "127.0.0.1:50051");
  EXPECT_EQ(ResolveServer("", ""), "127.0.0.1:50051");
  EXPECT_EQ(ResolveServer("", "unix:/run/p.sock"), "unix:/run/p.sock");
  EXPECT_EQ(ResolveServer("h:1", "unix:/run/p.sock"), "h:1");
  EXPECT_EQ(ResolveDomain(".", nullptr), ".");
  EXPECT_EQ(ResolveDomain("examples/bank", nullptr), "examples/bank");
  EXPECT_EQ(ResolveDomain("examples/bank", "other"), "other");  // PROTEAN_DOMAIN wins
  EXPECT_EQ(ResolveDomain("", ""), ".");
}

}  // namespace
}  // namespace protean_admin::client
