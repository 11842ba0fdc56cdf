#pragma once
// Test access to the checkpoint writer (agent/model/checkpoint_writer.hpp).
#include "agent/model/checkpoint_writer.hpp"

namespace slimcache::testing {
using agent::model::CheckpointSpec;
using agent::model::expert_tensor_names;
using agent::model::Family;
using agent::model::fixture_byte;
using agent::model::write_checkpoint;
}  // namespace slimcache::testing
