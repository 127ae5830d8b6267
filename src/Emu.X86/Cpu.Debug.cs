using System.Text;

namespace Emu.X86;

// Human-readable state dump in the layout of QEMU's "info registers", for the monitor and test failures.
public sealed partial class Cpu
{
    /// <summary>Formats the registers like QEMU's <c>info registers</c> for an i386 CPU.</summary>
    public string FormatRegisters()
    {
        var sb = new StringBuilder();
        uint f = Eflags;
        sb.Append($"EAX={R[0]:x8} EBX={R[3]:x8} ECX={R[1]:x8} EDX={R[2]:x8}\n");
        sb.Append($"ESI={R[6]:x8} EDI={R[7]:x8} EBP={R[5]:x8} ESP={R[4]:x8}\n");
        sb.Append($"EIP={_eip:x8} EFL={f:x8} [");
        sb.Append((f & Flags.DF) != 0 ? 'D' : '-').Append((f & Flags.OF) != 0 ? 'O' : '-').Append((f & Flags.SF) != 0 ? 'S' : '-')
          .Append((f & Flags.ZF) != 0 ? 'Z' : '-').Append((f & Flags.AF) != 0 ? 'A' : '-').Append((f & Flags.PF) != 0 ? 'P' : '-')
          .Append((f & Flags.CF) != 0 ? 'C' : '-');
        sb.Append($"] CPL={_cpl} II={(_interruptShadow ? 1 : 0)} A20={(A20Enabled ? 1 : 0)} SMM=0 HLT={(_halted ? 1 : 0)}\n");
        string[] names = { "ES =", "CS =", "SS =", "DS =", "FS =", "GS =" };
        for (int i = 0; i < 6; i++) AppendSegment(sb, names[i], S[i]);
        AppendSegment(sb, "LDT=", _ldtr);
        AppendSegment(sb, "TR =", _tr);
        sb.Append($"GDT=     {_gdtrBase:x8} {_gdtrLimit:x8}\n");
        sb.Append($"IDT=     {_idtrBase:x8} {_idtrLimit:x8}\n");
        sb.Append($"CR0={_cr0:x8} CR2={_cr2:x8} CR3={_cr3:x8} CR4={_cr4:x8}\n");
        sb.Append($"DR0={_dr[0]:x8} DR1={_dr[1]:x8} DR2={_dr[2]:x8} DR3={_dr[3]:x8}\n");
        sb.Append($"DR6={_dr[6]:x8} DR7={_dr[7]:x8}\n");
        sb.Append($"FCW={_fpu.Control:x4} FSW={_fpu.StatusWord:x4} [ST={_fpu.Top}] FTW={(byte)~_fpu.Empty:x2}\n");
        for (int i = 0; i < 8; i++)
        {
            Float80 r = _fpu.R[i];
            sb.Append($"FPR{i}={r.Mantissa:x16} {r.SignExp:x4}").Append(i % 2 == 1 ? '\n' : ' ');
        }
        return sb.ToString();
    }

    static void AppendSegment(StringBuilder sb, string name, in Segment s)
    {
        // QEMU shows the descriptor's high dword bits 8..23: access byte and the flags nibble.
        uint flags = ((uint)(s.Attributes & 0xFF) << 8) | ((uint)(s.Attributes >> 12) << 20);
        sb.Append($"{name}{s.Selector:x4} {s.Base:x8} {s.Limit:x8} {flags:x8}\n");
    }
}
