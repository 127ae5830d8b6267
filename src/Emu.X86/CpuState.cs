namespace Emu.X86;

/// <summary>A complete, serializable snapshot of the architectural CPU state (for savevm/loadvm and debugging).</summary>
public sealed class CpuState
{
    /// <summary>EAX..EDI in encoding order.</summary>
    public uint[] Registers = new uint[8];
    public uint Eip, Eflags;
    /// <summary>ES, CS, SS, DS, FS, GS with their descriptor caches.</summary>
    public Segment[] Segments = new Segment[6];
    public Segment Ldtr, Tr;
    public uint GdtrBase, IdtrBase;
    public ushort GdtrLimit, IdtrLimit;
    public uint Cr0, Cr2, Cr3, Cr4;
    public uint[] Dr = new uint[8];
    /// <summary>Offset added to the time stamp source, and the APIC base MSR.</summary>
    public ulong TscOffset, ApicBase;
    public uint SysenterCs, SysenterEsp, SysenterEip;
    public int Cpl;
    public bool Halted, InterruptShadow, NmiPending, InNmi, A20Enabled;
    /// <summary>x87 physical registers R0..R7.</summary>
    public Float80[] FpuRegisters = new Float80[8];
    public ushort FpuControl, FpuStatus, FpuLastCs, FpuLastDs, FpuLastOpcode;
    /// <summary>Bit i set when x87 physical register i is empty.</summary>
    public byte FpuEmpty;
    public int FpuTop;
    public uint FpuLastIp, FpuLastDp;

    /// <summary>Writes the snapshot in a fixed little-endian layout.</summary>
    public void Write(BinaryWriter w)
    {
        w.Write(1); // layout version
        foreach (uint r in Registers) w.Write(r);
        w.Write(Eip); w.Write(Eflags);
        foreach (Segment s in Segments) WriteSegment(w, s);
        WriteSegment(w, Ldtr); WriteSegment(w, Tr);
        w.Write(GdtrBase); w.Write(IdtrBase); w.Write(GdtrLimit); w.Write(IdtrLimit);
        w.Write(Cr0); w.Write(Cr2); w.Write(Cr3); w.Write(Cr4);
        foreach (uint d in Dr) w.Write(d);
        w.Write(TscOffset); w.Write(ApicBase);
        w.Write(SysenterCs); w.Write(SysenterEsp); w.Write(SysenterEip);
        w.Write(Cpl);
        w.Write(Halted); w.Write(InterruptShadow); w.Write(NmiPending); w.Write(InNmi); w.Write(A20Enabled);
        foreach (Float80 f in FpuRegisters) { w.Write(f.Mantissa); w.Write(f.SignExp); }
        w.Write(FpuControl); w.Write(FpuStatus); w.Write(FpuLastCs); w.Write(FpuLastDs); w.Write(FpuLastOpcode);
        w.Write(FpuEmpty); w.Write(FpuTop); w.Write(FpuLastIp); w.Write(FpuLastDp);
    }

    /// <summary>Reads a snapshot written by <see cref="Write"/>.</summary>
    public static CpuState Read(BinaryReader r)
    {
        if (r.ReadInt32() != 1) throw new InvalidDataException("unknown CPU state layout");
        var s = new CpuState();
        for (int i = 0; i < 8; i++) s.Registers[i] = r.ReadUInt32();
        s.Eip = r.ReadUInt32(); s.Eflags = r.ReadUInt32();
        for (int i = 0; i < 6; i++) s.Segments[i] = ReadSegment(r);
        s.Ldtr = ReadSegment(r); s.Tr = ReadSegment(r);
        s.GdtrBase = r.ReadUInt32(); s.IdtrBase = r.ReadUInt32(); s.GdtrLimit = r.ReadUInt16(); s.IdtrLimit = r.ReadUInt16();
        s.Cr0 = r.ReadUInt32(); s.Cr2 = r.ReadUInt32(); s.Cr3 = r.ReadUInt32(); s.Cr4 = r.ReadUInt32();
        for (int i = 0; i < 8; i++) s.Dr[i] = r.ReadUInt32();
        s.TscOffset = r.ReadUInt64(); s.ApicBase = r.ReadUInt64();
        s.SysenterCs = r.ReadUInt32(); s.SysenterEsp = r.ReadUInt32(); s.SysenterEip = r.ReadUInt32();
        s.Cpl = r.ReadInt32();
        s.Halted = r.ReadBoolean(); s.InterruptShadow = r.ReadBoolean(); s.NmiPending = r.ReadBoolean(); s.InNmi = r.ReadBoolean(); s.A20Enabled = r.ReadBoolean();
        for (int i = 0; i < 8; i++) { ulong m = r.ReadUInt64(); s.FpuRegisters[i] = new Float80(r.ReadUInt16(), m); }
        s.FpuControl = r.ReadUInt16(); s.FpuStatus = r.ReadUInt16(); s.FpuLastCs = r.ReadUInt16(); s.FpuLastDs = r.ReadUInt16(); s.FpuLastOpcode = r.ReadUInt16();
        s.FpuEmpty = r.ReadByte(); s.FpuTop = r.ReadInt32(); s.FpuLastIp = r.ReadUInt32(); s.FpuLastDp = r.ReadUInt32();
        return s;
    }

    static void WriteSegment(BinaryWriter w, Segment s)
    {
        w.Write(s.Selector); w.Write(s.Base); w.Write(s.Limit); w.Write(s.Attributes);
    }

    static Segment ReadSegment(BinaryReader r) => new()
    {
        Selector = r.ReadUInt16(),
        Base = r.ReadUInt32(),
        Limit = r.ReadUInt32(),
        Attributes = r.ReadUInt16(),
    };
}
