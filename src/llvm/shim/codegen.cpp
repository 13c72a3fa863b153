// Code generation with a pipeline built once per target machine, instead of once
// per module as LLVMTargetMachineEmitToMemoryBuffer does. Ore compiles one small
// module per function, and building the legacy codegen pipeline (about a hundred
// passes, the TargetPassConfig, the AsmPrinter and its MC streamer and object
// writer) cost more than compiling a small function. The AsmPrinter resets its
// streamer at the end of every module (AsmPrinter::doFinalization), and the
// machine module info resets its MC context, so a pipeline can run again on the
// next module. src/llvm/ir/pipeline.rs is the Rust side.

#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm-c/TargetMachine.h"

#include <cstring>
#include <memory>
#include <unordered_map>

using namespace llvm;

namespace {

/// One target machine's object file pipeline, writing into its own buffer.
struct Emitter {
  SmallVector<char, 0> Buffer;
  raw_svector_ostream Stream{Buffer};
  legacy::PassManager Passes;
};

} // namespace

extern "C" {

/// Compiles `M` to an object file with target machine `T`, through a pipeline
/// this thread built for `T` on first use and keeps (`T` must be this thread's,
/// alive until the thread ends). Returns a memory buffer the caller owns, or null
/// with `*Error` set to a malloc'd message.
LLVMMemoryBufferRef ore_shim_emit_object(LLVMTargetMachineRef T, LLVMModuleRef M, char **Error) {
  // Destroyed at thread exit, after the pipelines' last use and before the
  // thread's target machines (created earlier, so destroyed later).
  thread_local std::unordered_map<LLVMTargetMachineRef, std::unique_ptr<Emitter>> Emitters;
  auto *TM = reinterpret_cast<TargetMachine *>(T);
  auto &Slot = Emitters[T];
  if (!Slot) {
    auto E = std::make_unique<Emitter>();
    if (TM->addPassesToEmitFile(E->Passes, E->Stream, nullptr, CodeGenFileType::ObjectFile)) {
      *Error = strdup("the target machine cannot emit object files");
      Emitters.erase(T);
      return nullptr;
    }
    Slot = std::move(E);
  }
  Module *Mod = reinterpret_cast<Module *>(M);
  Mod->setDataLayout(TM->createDataLayout());
  Slot->Buffer.clear();
  Slot->Passes.run(*Mod);
  auto Object = MemoryBuffer::getMemBufferCopy(StringRef(Slot->Buffer.data(), Slot->Buffer.size()), Mod->getModuleIdentifier());
  // The C API's buffer refs are MemoryBuffer pointers (its wrap/unwrap).
  return reinterpret_cast<LLVMMemoryBufferRef>(Object.release());
}
}
