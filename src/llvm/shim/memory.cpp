// Ore's JIT memory manager: what LLVM 19's C API cannot configure (a JITLink
// memory manager), in the one C++ file Ore has. build.rs compiles it against the
// same LLVM headers as libLLVM-19.so; src/llvm/memory.rs is its Rust side.
//
// Why: LLVM's InProcessMemoryManager maps every allocation on its own, one page
// per segment at least, and gives each segment its protection with mprotect. A
// small function then costs three or four pages and two or more mappings, so a
// process reaches vm.max_map_count near 30,000 compiled functions.
//
// What: slabs of address space, each shared anonymous memory mapped twice: once
// for execution (code RX, read-only data R, data RW, in three regions), once
// read-write for the linker to write through. Segments of every allocation are
// packed into their region at 16-byte granularity (or their own alignment), so a
// page holds many functions and a slab is four mappings whatever it holds. Code is
// never writable where it executes (W^X by double mapping, as .NET does). Freed
// segments return to their region's free list, coalesced; whole free pages go
// back to the kernel (madvise MADV_REMOVE). With a debugger attached (debug
// info enabled), code is also writable where it runs, for breakpoints. One allocation's segments always
// share a slab, so their PC-relative references reach one another.

#include "llvm/ExecutionEngine/JITLink/JITLink.h"
#include "llvm/ExecutionEngine/JITLink/JITLinkMemoryManager.h"
#include "llvm/ExecutionEngine/Orc/EPCEHFrameRegistrar.h"
#include "llvm/ExecutionEngine/Orc/ObjectLinkingLayer.h"
#include "llvm/ExecutionEngine/Orc/Shared/AllocationActions.h"
#include "llvm/Support/Memory.h"
#include "llvm-c/LLJIT.h"

#include <map>
#include <mutex>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

using namespace llvm;
using namespace llvm::jitlink;
using namespace llvm::orc;

namespace {

constexpr uint64_t PageSize = 4096;
constexpr uint64_t Granule = 16;
// Per slab: code, read-only data, data. Virtual only: pages exist once written.
constexpr uint64_t RegionSizes[3] = {256 << 20, 128 << 20, 128 << 20};
constexpr uint64_t SlabSize = RegionSizes[0] + RegionSizes[1] + RegionSizes[2];
constexpr int RegionProt[3] = {PROT_READ | PROT_EXEC, PROT_READ, PROT_READ | PROT_WRITE};

/// A region's free space: offset to length, address-ordered, coalesced.
struct FreeList {
  std::map<uint64_t, uint64_t> Free;
  uint64_t InUse = 0;

  /// First fit; returns the offset, or ~0 when nothing fits.
  uint64_t take(uint64_t Size, uint64_t Align) {
    for (auto It = Free.begin(); It != Free.end(); ++It) {
      uint64_t Start = alignTo(It->first, Align);
      uint64_t End = It->first + It->second;
      if (Start + Size > End)
        continue;
      uint64_t BlockStart = It->first;
      Free.erase(It);
      if (Start > BlockStart)
        Free[BlockStart] = Start - BlockStart;
      if (Start + Size < End)
        Free[Start + Size] = End - (Start + Size);
      InUse += Size;
      return Start;
    }
    return ~uint64_t(0);
  }

  /// Returns a block; gives the merged free block it became part of.
  std::pair<uint64_t, uint64_t> give(uint64_t Offset, uint64_t Size) {
    InUse -= Size;
    auto Next = Free.lower_bound(Offset);
    if (Next != Free.end() && Offset + Size == Next->first) {
      Size += Next->second;
      Next = Free.erase(Next);
    }
    if (Next != Free.begin()) {
      auto Prev = std::prev(Next);
      if (Prev->first + Prev->second == Offset) {
        Prev->second += Size;
        return *Prev;
      }
    }
    Free[Offset] = Size;
    return {Offset, Size};
  }
};

struct Slab {
  char *Exec = nullptr;  // where code runs
  char *Write = nullptr; // where the linker writes
  FreeList Regions[3];
};

/// One segment as placed: its slab, region and offset in the region.
struct Placed {
  Slab *S;
  int Region;
  uint64_t Offset, Size;
};

/// What a finalized allocation keeps until it is deallocated.
struct Finalized {
  std::vector<Placed> Segments;
  std::vector<shared::WrapperFunctionCall> DeallocActions;
};

int regionOf(MemProt Prot) {
  if ((Prot & MemProt::Exec) != MemProt::None)
    return 0;
  if ((Prot & MemProt::Write) != MemProt::None)
    return 2;
  return 1;
}

uint64_t regionBase(int Region) {
  uint64_t Base = 0;
  for (int I = 0; I < Region; ++I)
    Base += RegionSizes[I];
  return Base;
}

class SlabMemoryManager : public JITLinkMemoryManager {
public:
  /// Maps the first slab now, so that a system without room for a slab
  /// is found out before any code is linked; false then.
  bool start() {
    Slab *S = newSlab();
    if (S)
      Slabs.push_back(S);
    return S;
  }

  ~SlabMemoryManager() override {
    // The ObjectLinkingLayer deallocates everything it holds before this runs.
    for (Slab *S : Slabs) {
      munmap(S->Exec, SlabSize);
      munmap(S->Write, SlabSize);
      delete S;
    }
  }

  void allocate(const JITLinkDylib *, LinkGraph &G, OnAllocatedFunction OnAllocated) override;
  void deallocate(std::vector<FinalizedAlloc> Allocs, OnDeallocatedFunction OnDeallocated) override;

  /// Gives segments back (their pages to the kernel where whole pages are free).
  void release(const std::vector<Placed> &Segments) {
    std::lock_guard<std::mutex> Lock(M);
    for (const Placed &P : Segments) {
      auto [Offset, Size] = P.S->Regions[P.Region].give(P.Offset, P.Size);
      uint64_t First = alignTo(Offset, PageSize), Last = alignDown(Offset + Size, PageSize);
      if (Last > First)
        madvise(P.S->Write + regionBase(P.Region) + First, Last - First, MADV_REMOVE);
    }
  }

  uint64_t bytesInUse() {
    std::lock_guard<std::mutex> Lock(M);
    uint64_t N = 0;
    for (Slab *S : Slabs)
      for (auto &R : S->Regions)
        N += R.InUse;
    return N;
  }

private:
  /// Places every segment of one allocation in one slab (a new one if none has
  /// room); empty when that is impossible.
  std::vector<Placed> place(BasicLayout &BL) {
    std::lock_guard<std::mutex> Lock(M);
    for (Slab *S : Slabs)
      if (auto Segments = placeIn(*S, BL); !Segments.empty())
        return Segments;
    Slab *S = newSlab();
    if (!S)
      return {};
    Slabs.push_back(S);
    return placeIn(*S, BL);
  }

  std::vector<Placed> placeIn(Slab &S, BasicLayout &BL) {
    std::vector<Placed> Segments;
    for (auto &KV : BL.segments()) {
      auto &Seg = KV.second;
      int Region = regionOf(KV.first.getMemProt());
      uint64_t Size = alignTo(std::max<uint64_t>(Seg.ContentSize + Seg.ZeroFillSize, 1), Granule);
      uint64_t Offset = S.Regions[Region].take(Size, std::max<uint64_t>(Seg.Alignment.value(), Granule));
      if (Offset == ~uint64_t(0)) {
        for (const Placed &P : Segments)
          S.Regions[P.Region].give(P.Offset, P.Size);
        return {};
      }
      Segments.push_back({&S, Region, Offset, Size});
    }
    return Segments;
  }

  Slab *newSlab() {
    // Shared anonymous memory, aliased with mremap: the execution view reads as
    // anonymous memory to tools (perf looks up /tmp/perf-PID.map for it).
    void *Write = mmap(nullptr, SlabSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (Write == MAP_FAILED)
      return nullptr;
    // Reserve the execution view's range, then move each region's alias into it.
    void *Exec = mmap(nullptr, SlabSize, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    bool Ok = Exec != MAP_FAILED;
    for (int R = 0; Ok && R < 3; ++R) {
      char *At = static_cast<char *>(Exec) + regionBase(R);
      Ok = mremap(static_cast<char *>(Write) + regionBase(R), 0, RegionSizes[R], MREMAP_MAYMOVE | MREMAP_FIXED, At) == At &&
           mprotect(At, RegionSizes[R], protection(R)) == 0;
    }
    if (!Ok) {
      if (Exec != MAP_FAILED)
        munmap(Exec, SlabSize);
      munmap(Write, SlabSize);
      return nullptr;
    }
    Slab *S = new Slab{static_cast<char *>(Exec), static_cast<char *>(Write), {}};
    for (int R = 0; R < 3; ++R)
      S->Regions[R].Free[0] = RegionSizes[R];
    return S;
  }

  /// A region's protection in the execution view: code is writable there too
  /// once a debugger is told about JIT'd code, because a debugger inserts its
  /// breakpoints by writing where code runs (the kernel refuses such writes to
  /// a shared mapping that is not writable).
  int protection(int Region) const {
    return Region == 0 && Debuggable ? RegionProt[0] | PROT_WRITE : RegionProt[Region];
  }

public:
  /// From now on, code regions are writable where code runs (see `protection`).
  void makeDebuggable() {
    std::lock_guard<std::mutex> Lock(M);
    Debuggable = true;
    for (Slab *S : Slabs)
      mprotect(S->Exec, RegionSizes[0], protection(0));
  }

private:
  bool Debuggable = false;
  std::mutex M;
  std::vector<Slab *> Slabs;
};

class SlabInFlightAlloc : public JITLinkMemoryManager::InFlightAlloc {
public:
  SlabInFlightAlloc(SlabMemoryManager &MM, LinkGraph &G, std::vector<Placed> Segments)
      : MM(MM), G(G), Segments(std::move(Segments)) {}

  void finalize(OnFinalizedFunction OnFinalized) override {
    // The content is already where it runs (the two views share pages).
    for (const Placed &P : Segments)
      if (P.Region == 0)
        sys::Memory::InvalidateInstructionCache(P.S->Exec + regionBase(0) + P.Offset, P.Size);
    auto DeallocActions = shared::runFinalizeActions(G.allocActions());
    if (!DeallocActions) {
      MM.release(Segments);
      OnFinalized(DeallocActions.takeError());
      return;
    }
    auto *F = new Finalized{std::move(Segments), std::move(*DeallocActions)};
    OnFinalized(JITLinkMemoryManager::FinalizedAlloc(ExecutorAddr::fromPtr(F)));
  }

  void abandon(OnAbandonedFunction OnAbandoned) override {
    MM.release(Segments);
    OnAbandoned(Error::success());
  }

private:
  SlabMemoryManager &MM;
  LinkGraph &G;
  std::vector<Placed> Segments;
};

void SlabMemoryManager::allocate(const JITLinkDylib *, LinkGraph &G, OnAllocatedFunction OnAllocated) {
  BasicLayout BL(G);
  for (auto &KV : BL.segments())
    if (KV.second.Alignment.value() > PageSize)
      return OnAllocated(make_error<JITLinkError>("segment alignment over a page in " + G.getName()));
  std::vector<Placed> Segments = place(BL);
  if (Segments.empty())
    return OnAllocated(make_error<JITLinkError>("out of JIT code memory (cannot map a slab) for " + G.getName()));
  size_t I = 0;
  for (auto &KV : BL.segments()) {
    auto &Seg = KV.second;
    const Placed &P = Segments[I++];
    uint64_t At = regionBase(P.Region) + P.Offset;
    Seg.Addr = ExecutorAddr::fromPtr(P.S->Exec + At);
    Seg.WorkingMem = P.S->Write + At;
    // Reused memory holds old bytes; zero-fill content must read as zero.
    memset(Seg.WorkingMem, 0, P.Size);
  }
  if (auto Err = BL.apply()) {
    release(Segments);
    return OnAllocated(std::move(Err));
  }
  OnAllocated(std::make_unique<SlabInFlightAlloc>(*this, G, std::move(Segments)));
}

void SlabMemoryManager::deallocate(std::vector<FinalizedAlloc> Allocs, OnDeallocatedFunction OnDeallocated) {
  Error Err = Error::success();
  // In reverse, as the interface asks.
  while (!Allocs.empty()) {
    auto *F = Allocs.back().release().toPtr<Finalized *>();
    Allocs.pop_back();
    Err = joinErrors(std::move(Err), shared::runDeallocActions(F->DeallocActions));
    release(F->Segments);
    delete F;
  }
  OnDeallocated(std::move(Err));
}

SlabMemoryManager *Manager(void *Ctx) { return static_cast<SlabMemoryManager *>(Ctx); }

} // namespace

extern "C" {

/// A memory manager for `ore_shim_object_linking_layer`, owned by the caller
/// until `ore_shim_memory_manager_dispose` (after the LLJIT using it is gone);
/// null if no slab can be mapped (then LLJIT's default manager is the fallback).
void *ore_shim_memory_manager_create() {
  auto *MM = new SlabMemoryManager();
  if (MM->start())
    return MM;
  delete MM;
  return nullptr;
}

void ore_shim_memory_manager_dispose(void *Ctx) { delete Manager(Ctx); }

/// Makes code writable where it runs, for debuggers' breakpoints (called when
/// debugger support is enabled).
void ore_shim_memory_manager_make_debuggable(void *Ctx) { Manager(Ctx)->makeDebuggable(); }

/// Bytes of segments allocated and not freed (page padding excluded).
uint64_t ore_shim_memory_manager_bytes_in_use(void *Ctx) { return Manager(Ctx)->bytesInUse(); }

/// An `LLVMOrcLLJITBuilderObjectLinkingLayerCreatorFunction`: the layer LLJIT
/// builds by default on ELF x86-64 (JITLink, with .eh_frame registration), using
/// the memory manager `Ctx`, which must outlive it.
LLVMOrcObjectLayerRef ore_shim_object_linking_layer(void *Ctx, LLVMOrcExecutionSessionRef ES, const char *) {
  // The C API's refs are these objects' addresses (OrcV2CBindings.cpp's wrap).
  auto &Session = *reinterpret_cast<ExecutionSession *>(ES);
  auto *Layer = new ObjectLinkingLayer(Session, *Manager(Ctx));
  if (auto Registrar = EPCEHFrameRegistrar::Create(Session))
    Layer->addPlugin(std::make_unique<EHFrameRegistrationPlugin>(Session, std::move(*Registrar)));
  else
    Session.reportError(Registrar.takeError());
  return reinterpret_cast<LLVMOrcObjectLayerRef>(static_cast<ObjectLayer *>(Layer));
}
}
