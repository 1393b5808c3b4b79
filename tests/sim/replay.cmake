# sim.replay: runs topup-sim on one seed twice, in two processes, and fails unless the two traces
# are byte-identical (cmake -DSIM=<topup-sim> -DSEED=<n> -P replay.cmake).
foreach(run first second)
  execute_process(COMMAND ${SIM} --seed ${SEED} --verbose
                  OUTPUT_VARIABLE trace_${run} RESULT_VARIABLE rc_${run})
endforeach()
string(LENGTH "${trace_first}" length)
if(NOT trace_first STREQUAL trace_second)
  message(FATAL_ERROR "seed ${SEED}: the two traces differ (exit ${rc_first} / ${rc_second})")
endif()
if(length LESS 1000)
  message(FATAL_ERROR "seed ${SEED}: trace too short to mean anything (${length} bytes)")
endif()
message(STATUS "seed ${SEED}: two runs, identical traces of ${length} bytes (exit ${rc_first})")
