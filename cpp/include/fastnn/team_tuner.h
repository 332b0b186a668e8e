// Chooses whether a step that can run on a team of threads does so or runs on the calling thread
// alone, from measured step times. The caller's arithmetic must not depend on the choice
// (run_features partitions the work the same way for both), so switching never changes a result.
// With the other cores free the team wins (the demo fit: 45 ms vs 67-75 ms alone). When another
// process holds a core, a team step is fast while the helper thread has one and stalls for a
// scheduler time slice when it does not (demo fit with one core busy: 113-476 ms on the team,
// 73 ms alone): two stalls in a window of team steps send the step back to one thread, and the
// team is probed again at exponentially growing intervals (measured: 83-127 ms).
#pragma once
#include <algorithm>
#include <cstdint>

namespace fastnn {

class TeamTuner {
 public:
  // -1: choose by timing; 0: always alone; 1: always the team (tests).
  void force(int mode) { force_ = mode; }
  bool use_team() const {
    if (force_ >= 0) return force_ == 1;
    return solo_ > 0.0 && (team_mode_ || until_probe_ == 0);
  }
  // The step just run took `ns` nanoseconds for `work` (flops), on the team or not.
  void record(bool team, double ns, double work) {
    if (force_ >= 0 || work <= 0.0) return;
    if (team != last_team_) {  // a window holds one kind of step
      reset();
      last_team_ = team;
    }
    if (!team) {
      if (until_probe_ > 0) --until_probe_;
      sum_ns_ += ns;
      sum_work_ += work;
      if (++seen_ == kSoloWindow) {
        solo_ = sum_ns_ / sum_work_;
        reset();
      }
      return;
    }
    if (++seen_ <= kWarmup) return;  // waking the team's threads is not the steady state
    sum_ns_ += ns;
    sum_work_ += work;
    // A stall: a thread of the team waited for a core (one time slice is worth hundreds of steps).
    stalls_ += ns > kStall * solo_ * work ? 1 : 0;
    const int window = team_mode_ ? kTeamWindow : kProbeWindow;
    const bool lost = stalls_ >= (team_mode_ ? 2 : 1);
    if (!lost && seen_ < kWarmup + window) return;
    const double rate = sum_ns_ / sum_work_;
    if (team_mode_ && (lost || rate > solo_)) {
      team_mode_ = false;  // run alone, probe later
      until_probe_ = interval_;
      interval_ = std::min<int64_t>(2 * interval_, kMaxInterval);
    } else if (!team_mode_) {
      if (!lost && rate < kProbeGain * solo_) {
        team_mode_ = true;
        interval_ = kFirstInterval;
      } else {
        until_probe_ = interval_;
        interval_ = std::min<int64_t>(2 * interval_, kMaxInterval);
      }
    }
    reset();
  }

 private:
  // Steps per window: one-thread steps, team steps and probes (kWarmup team steps after a switch
  // are ignored). Two stalls end a team window, one a probe.
  static constexpr int kSoloWindow = 32, kTeamWindow = 64, kProbeWindow = 16, kWarmup = 4;
  static constexpr double kStall = 6.0;  // a team step this many times the one-thread time
  static constexpr double kProbeGain = 0.95;
  static constexpr int64_t kFirstInterval = 64, kMaxInterval = 16384;  // one-thread steps
  void reset() {
    seen_ = stalls_ = 0;
    sum_ns_ = sum_work_ = 0.0;
  }
  int force_ = -1;
  bool team_mode_ = true, last_team_ = false;
  double solo_ = 0.0, sum_ns_ = 0.0, sum_work_ = 0.0;  // solo_: ns per flop alone (0: unknown)
  int64_t until_probe_ = 0, interval_ = kFirstInterval;
  int seen_ = 0, stalls_ = 0;
};

}  // namespace fastnn
